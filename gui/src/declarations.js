// The API's TypeScript-style declarations (src/types/*.d.ts), read into a
// model the editor asks two questions: what can follow this dot, and what is
// this name. The reader takes the subset those files are written in:
// `declare`d classes, functions, consts and namespaces, interfaces and type
// aliases, members ended by `;`, and `/** ... */` documentation.

/** A parsed set of declaration files. */
export class Declarations {
  constructor(...texts) {
    /** Named types by qualified name: interfaces, classes, aliases. */
    this.types = new Map()
    /** Values by qualified name: each an array of declarations (functions overload, merge). */
    this.values = new Map()
    for (const text of texts) new Reader(text, this).statements('', null)
  }

  /** The type named `name` as seen from namespace `scope` ('' for the top). */
  type(name, scope = '') {
    for (const at of scopes(scope)) {
      const decl = this.types.get(at ? `${at}.${name}` : name)
      if (decl) return decl
    }
    return null
  }

  /** A type text with aliases followed (`PipelineBuilder` becomes its function type). */
  expand(text, scope = '') {
    for (let i = 0; text && i < 8; i++) {
      const name = /^[A-Za-z_$][\w$.]*$/.test(text.trim()) && text.trim()
      const decl = name && this.type(name, scope)
      if (decl?.kind !== 'alias') break
      text = decl.text
      scope = decl.scope
    }
    return text
  }

  /** The value declarations of `name` as seen from namespace `scope`. */
  value(name, scope = '') {
    for (const at of scopes(scope)) {
      const decls = this.values.get(at ? `${at}.${name}` : name)
      if (decls) return decls
    }
    return null
  }

  /** What a global name refers to, or null. */
  global(name) {
    const decls = this.value(name)
    if (decls) return this.fromValue(decls)
    const type = this.type(name)
    return type ? this.instance(name) : null
  }

  /** An instance of the type written `text` (in namespace `scope`). */
  instance(text, scope = '') {
    const name = namedType(text)
    if (!name) return null
    const decl = this.type(name, scope)
    if (!decl) return null
    if (decl.kind === 'alias') return this.instance(decl.text, decl.scope)
    const members = new Map()
    const calls = []
    const seen = new Set()
    const add = d => {
      if (!d || seen.has(d)) return
      seen.add(d)
      for (const m of d.members) {
        if (m.static) continue
        if (m.kind === 'call') calls.push(m)
        else if (m.kind !== 'constructor') push(members, m.name, m)
      }
      for (const base of d.bases || []) {
        const b = this.type(namedType(base), d.scope)
        add(b?.kind === 'alias' ? this.type(namedType(b.text), b.scope) : b)
      }
    }
    add(decl)
    return { name: decl.qualified, members, calls, constructs: [], scope: decl.scope }
  }

  /** The value made of a name's declarations: a class's static side, a namespace, a function, a const. */
  fromValue(decls) {
    const members = new Map()
    const calls = []
    const constructs = []
    let name = ''
    for (const d of decls) {
      name = d.qualified
      if (d.kind === 'function') calls.push(d)
      else if (d.kind === 'class') {
        constructs.push(...d.members.filter(m => m.kind === 'constructor'))
        if (!constructs.length) constructs.push({ kind: 'constructor', name: 'constructor', params: [], doc: d.doc, scope: d.scope, owner: d.qualified })
        for (const m of d.members) if (m.static) push(members, m.name, m)
      } else if (d.kind === 'namespace') {
        for (const [key, ds] of this.values) {
          if (key.startsWith(`${d.qualified}.`) && !key.slice(d.qualified.length + 1).includes('.')) {
            for (const m of ds) push(members, m.name, m)
          }
        }
      } else if (d.kind === 'const') {
        const inst = this.instance(d.type, d.scope)
        if (inst) {
          for (const [k, ms] of inst.members) for (const m of ms) push(members, k, m)
          calls.push(...inst.calls)
        }
      }
    }
    return { name, members, calls, constructs, scope: decls[0]?.scope ?? '' }
  }

  /** The value a member declaration gives when read. */
  memberValue(m) {
    if (m.kind === 'method') return { name: m.name, members: new Map(), calls: [m], constructs: [], scope: m.scope }
    if (m.kind === 'property' || m.kind === 'const') return this.instance(m.type, m.scope)
    return this.fromValue(this.values.get(m.qualified) || [m])
  }

  /** What calling `value` returns (its first signature's return type). */
  called(value) {
    const sig = value?.calls[0]
    return sig ? this.instance(sig.returns, sig.scope) : null
  }

  /** What `new value(...)` makes. */
  constructed(value) {
    return value?.constructs.length ? this.instance(value.name) : null
  }
}

/** One step of reading a declaration file. */
class Reader {
  constructor(text, into) {
    this.text = text
    this.at = 0
    this.into = into
    this.doc = ''
  }

  /** Statements until `}` or the end, declared in namespace `scope`. */
  statements(scope) {
    for (;;) {
      this.trivia()
      if (this.at >= this.text.length || this.peek('}')) return
      const doc = this.takeDoc()
      let word = this.word()
      while (word === 'declare' || word === 'export') word = this.word()
      const qualify = name => (scope ? `${scope}.${name}` : name)
      if (word === 'interface' || word === 'class') {
        const name = this.word()
        this.generics()
        const bases = []
        for (;;) {
          this.trivia()
          if (this.peek('{')) break
          const w = this.word()
          if (w !== 'extends' && w !== 'implements') throw this.error(`unexpected '${w}' in ${name}'s heading`)
          bases.push(...splitTop(this.until('{'), ','))
          this.at-- // the members' `{`
        }
        const decl = { kind: word, name, qualified: qualify(name), scope, doc, bases, members: this.members(scope, qualify(name)) }
        const known = this.into.types.get(decl.qualified)
        if (known && known.kind !== 'alias') {
          known.members.push(...decl.members)
          known.bases.push(...bases)
          known.doc ||= doc
        } else this.into.types.set(decl.qualified, decl)
        if (word === 'class') push(this.into.values, decl.qualified, this.into.types.get(decl.qualified))
      } else if (word === 'namespace' || word === 'module') {
        const name = this.word()
        const qualified = qualify(name)
        push(this.into.values, qualified, { kind: 'namespace', name, qualified, scope, doc })
        this.expect('{')
        this.statements(qualified)
        this.expect('}')
      } else if (word === 'function') {
        const name = this.word()
        this.generics()
        const sig = this.signature()
        push(this.into.values, qualify(name), { kind: 'function', name, qualified: qualify(name), scope, doc, ...sig })
      } else if (word === 'const' || word === 'var' || word === 'let') {
        const name = this.word()
        this.expect(':')
        const type = this.until(';')
        push(this.into.values, qualify(name), { kind: 'const', name, qualified: qualify(name), scope, doc, type })
      } else if (word === 'type') {
        const name = this.word()
        this.generics()
        this.expect('=')
        this.into.types.set(qualify(name), { kind: 'alias', name, qualified: qualify(name), scope, doc, text: this.until(';') })
      } else {
        throw this.error(`unexpected '${word}'`)
      }
    }
  }

  /** Members between braces. */
  members(scope, owner) {
    this.expect('{')
    const list = []
    for (;;) {
      this.trivia()
      if (this.peek('}')) break
      const doc = this.takeDoc()
      let isStatic = false
      let readonly = false
      let name = ''
      for (;;) {
        if (this.peek('(') || this.peek('[') || this.peek('<')) break
        const w = this.word()
        if (w === 'static') isStatic = true
        else if (w === 'readonly') readonly = true
        else if (w === 'public' || w === 'declare') continue
        else { name = w; break }
      }
      this.trivia()
      if (!name && this.peek('[')) { this.until(';'); continue } // index signature
      const optional = this.peek('?') && !!this.skip(1)
      this.trivia()
      if (name === 'constructor') {
        list.push({ kind: 'constructor', name, owner, scope, doc, ...this.signature() })
      } else if (!name || this.peek('(') || this.peek('<')) {
        this.generics()
        const sig = this.signature()
        list.push({ kind: name ? 'method' : 'call', name, owner, scope, doc, static: isStatic, optional, ...sig })
      } else {
        this.expect(':')
        list.push({ kind: 'property', name, owner, scope, doc, static: isStatic, readonly, optional, type: this.until(';') })
      }
    }
    this.expect('}')
    return list
  }

  /** `(params): Returns;` */
  signature() {
    this.expect('(')
    const params = splitTop(this.until(')'), ',').map(param)
    this.trivia()
    let returns = 'void'
    if (this.peek(':')) {
      this.skip(1)
      returns = this.until(';')
    } else if (this.peek(';')) this.skip(1)
    return { params, returns }
  }

  /** Skips `<...>` after a name. */
  generics() {
    this.trivia()
    if (this.peek('<')) { this.skip(1); this.until('>') }
  }

  /** The text up to `stop` at bracket depth 0, consuming `stop`. */
  until(stop) {
    const start = this.at
    let depth = 0
    while (this.at < this.text.length) {
      const c = this.text[this.at]
      // A type that ends its line ends there, as TypeScript reads `;`-less members.
      if (depth === 0 && stop === ';' && (c === '}' || (c === '\n' && this.lineEnds(start)))) {
        return this.text.slice(start, this.at).replace(/\/\/[^\n]*|\/\*[\s\S]*?\*\//g, '').replace(/\s+/g, ' ').trim()
      }
      if (depth === 0 && c === stop) {
        this.at++
        return this.text.slice(start, this.at - 1).replace(/\/\/[^\n]*|\/\*[\s\S]*?\*\//g, '').replace(/\s+/g, ' ').trim()
      }
      if (c === '"' || c === "'" || c === '`') this.quoted(c)
      else if (c === '/' && (this.text[this.at + 1] === '*' || this.text[this.at + 1] === '/')) {
        const block = this.text[this.at + 1] === '*'
        const end = this.text.indexOf(block ? '*/' : '\n', this.at)
        if (end < 0) break
        this.at = end + (block ? 2 : 0)
      } else {
        if ('([{'.includes(c) || (c === '<')) depth++
        else if (')]}'.includes(c) || (c === '>' && this.text[this.at - 1] !== '=')) depth--
        this.at++
      }
    }
    if (stop === ';') return this.text.slice(start).replace(/\s+/g, ' ').trim()
    throw this.error(`missing '${stop}'`)
  }

  /** Whether the text from `start` to here is a whole type and the next line does not go on with it. */
  lineEnds(start) {
    const sofar = this.text.slice(start, this.at).replace(/\/\/[^\n]*/g, '').trim()
    const next = this.text.slice(this.at).trimStart()
    return sofar !== '' && !/(\||&|=>|,|:|=)$/.test(sofar) && !/^(\||&|=>)/.test(next)
  }

  quoted(q) {
    this.at++
    while (this.at < this.text.length && this.text[this.at] !== q) this.at += this.text[this.at] === '\\' ? 2 : 1
    this.at++
  }

  /** Skips blanks and comments, keeping the last documentation comment. */
  trivia() {
    for (;;) {
      const rest = this.text.slice(this.at, this.at + 3)
      if (/^\s/.test(rest)) this.at++
      else if (rest.startsWith('//')) {
        const end = this.text.indexOf('\n', this.at)
        this.at = end < 0 ? this.text.length : end
      } else if (rest.startsWith('/*')) {
        const end = this.text.indexOf('*/', this.at + 2)
        if (end < 0) throw this.error('unclosed comment')
        if (rest === '/**') this.doc = this.text.slice(this.at + 3, end)
        this.at = end + 2
      } else return
    }
  }

  takeDoc() {
    const doc = this.doc
    this.doc = ''
    return cleanDoc(doc)
  }

  word() {
    this.trivia()
    const m = /^[A-Za-z_$][\w$]*/.exec(this.text.slice(this.at, this.at + 200))
    if (!m) throw this.error('a name was expected')
    this.at += m[0].length
    return m[0]
  }

  peek(s) { return this.text.startsWith(s, this.at) }
  skip(n) { this.at += n; return true }

  expect(s) {
    this.trivia()
    if (!this.peek(s)) throw this.error(`'${s}' was expected`)
    this.at += s.length
  }

  error(message) {
    const line = this.text.slice(0, this.at).split('\n').length
    return new Error(`declarations, line ${line}: ${message}`)
  }
}

/** Documentation text without its `*` margins; `@param` and `@returns` kept as lines. */
function cleanDoc(raw) {
  return raw.split('\n').map(l => l.replace(/^\s*\*\s?/, '').trimEnd()).join('\n').trim()
}

/** A parameter written `name?: type`, `...name: type` or `name`. */
function param(text) {
  const m = /^(\.\.\.)?([\w$]+)(\?)?\s*(?::\s*([\s\S]*))?$/.exec(text.trim())
  if (!m) return { name: text.trim(), type: 'any' }
  return { name: m[2], rest: !!m[1], optional: !!m[3], type: (m[4] || 'any').trim() }
}

/** `text` split at `sep` where no bracket is open. */
export function splitTop(text, sep) {
  const parts = []
  let depth = 0
  let start = 0
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if ('([{<'.includes(c)) depth++
    else if (')]}'.includes(c) || (c === '>' && text[i - 1] !== '=')) depth--
    else if (c === sep && depth === 0) { parts.push(text.slice(start, i)); start = i + 1 }
  }
  const last = text.slice(start)
  if (last.trim() || parts.length) parts.push(last)
  return parts.map(p => p.trim()).filter(Boolean)
}

/** The one declared type a type text names (`Data | null` is `Data`), or null. */
export function namedType(text) {
  if (!text) return null
  let t = text.trim()
  while (t.startsWith('(') && t.endsWith(')') && !t.includes('=>')) t = t.slice(1, -1).trim()
  for (const part of splitTop(t, '|')) {
    const m = /^([A-Za-z_$][\w$.]*)(<[\s\S]*>)?$/.exec(part)
    if (m && !PRIMITIVES.has(m[1])) return m[1]
  }
  return null
}

/** The parameter types of a function type `(a: A, b: B) => R`, or null. */
export function functionParams(text) {
  for (const part of splitTop(text.trim(), '|')) {
    let t = part
    while (t.startsWith('((') && t.endsWith(')')) t = t.slice(1, -1)
    if (!t.startsWith('(')) continue
    let depth = 0
    for (let i = 0; i < t.length; i++) {
      if (t[i] === '(') depth++
      else if (t[i] === ')' && --depth === 0) {
        if (!/^\s*=>/.test(t.slice(i + 1))) break
        return splitTop(t.slice(1, i), ',').map(param)
      }
    }
  }
  return null
}

const PRIMITIVES = new Set(['string', 'number', 'boolean', 'any', 'unknown', 'void', 'null', 'undefined', 'object', 'never', 'Array', 'Record', 'Promise', 'Function'])

function scopes(scope) {
  const list = []
  for (let s = scope; s; s = s.includes('.') ? s.slice(0, s.lastIndexOf('.')) : '') list.push(s)
  list.push('')
  return list
}

function push(map, key, value) {
  const list = map.get(key)
  if (list) list.push(value)
  else map.set(key, [value])
}

/** The one-line form of a declaration, as shown in completion and hover. */
export function signatureOf(d) {
  const params = () => `(${(d.params || []).map(p => `${p.rest ? '...' : ''}${p.name}${p.optional ? '?' : ''}: ${p.type}`).join(', ')})`
  switch (d.kind) {
    case 'method': return `${d.static ? 'static ' : ''}${d.name}${params()}: ${d.returns}`
    case 'function': return `function ${d.qualified}${params()}: ${d.returns}`
    case 'constructor': return `new ${d.owner}${params()}`
    case 'property': return `${d.readonly ? 'readonly ' : ''}${d.name}${d.optional ? '?' : ''}: ${d.type}`
    case 'const': return `const ${d.qualified}: ${d.type}`
    case 'class': return `class ${d.qualified}${d.bases?.length ? ` extends ${d.bases.join(', ')}` : ''}`
    case 'interface': return `interface ${d.qualified}`
    case 'namespace': return `namespace ${d.qualified}`
    default: return d.name
  }
}
