// What an expression in a script refers to, from the API's declarations: the
// chain before a dot (`pipy().listen(8080).`, `new crypto.Hash('sha256').`,
// `msg.head.`), read backwards from the text. Arrow parameters take the type
// the called function declares for its callback (`handleMessageStart(msg =>
// msg.`), `$` is the Configuration being laid out, and `var x = <chain>`
// gives `x` the chain's value. Anything else is unknown (null), never guessed.

import { functionParams, splitTop } from './declarations.js'

const IDENT = /[\w$]/
const LOOK_BACK = 20000

/** The value of the expression that ends at `end` in `text`, or null. */
export function valueBefore(decls, text, end, depth = 0) {
  const chain = chainBefore(text, end)
  return chain && depth < 4 ? evaluate(decls, text, chain, depth) : null
}

/** The steps of a member chain ending at `end`: its root and what follows. */
export function chainBefore(text, end) {
  const steps = []
  let i = end
  const floor = Math.max(0, end - LOOK_BACK)
  for (;;) {
    i = skipBlank(text, i, floor)
    const c = text[i - 1]
    if (c === ')') {
      const open = matchBack(text, i - 1, floor)
      if (open < 0) return null
      steps.unshift({ call: true, open })
      i = open
      continue
    }
    if (!IDENT.test(c || '')) return null
    let start = i
    while (start > floor && IDENT.test(text[start - 1])) start--
    const name = text.slice(start, i)
    if (/^\d/.test(name)) return null
    const before = skipBlank(text, start, floor)
    if (text[before - 1] === '.' && text[before - 2] !== '.') {
      steps.unshift({ member: name })
      i = before - 1
      continue
    }
    const isNew = /(^|[^\w$.])new\s*$/.test(text.slice(Math.max(floor, start - 8), start))
    return { root: name, at: start, isNew, steps }
  }
}

function evaluate(decls, text, chain, depth) {
  let value = rootValue(decls, text, chain, depth)
  let pendingNew = chain.isNew
  for (const step of chain.steps) {
    if (!value) return null
    if (step.call) {
      value = pendingNew ? decls.constructed(value) : decls.called(value)
      pendingNew = false
    } else {
      const ms = value.members.get(step.member)
      value = ms ? decls.memberValue(ms[0]) : null
    }
  }
  return pendingNew ? null : value
}

function rootValue(decls, text, chain, depth) {
  const { root, at } = chain
  const param = arrowParam(decls, text, root, at, depth)
  if (param !== undefined) return param
  const local = localValue(decls, text, root, at, depth)
  if (local !== undefined) return local
  if (root === '$') return decls.instance('Configuration')
  return decls.global(root)
}

/** `var|let|const name = <chain>` before `at`: that chain's value (undefined when none). */
function localValue(decls, text, name, at, depth) {
  const re = new RegExp(`(?:var|let|const)\\s+${escape(name)}\\s*=\\s*`, 'g')
  let found
  for (let m; (m = re.exec(text)) && m.index < at;) found = m
  if (!found) return undefined
  const start = found.index + found[0].length
  const stop = /[;\n]/.exec(text.slice(start))
  const end = stop ? start + stop.index : text.length
  return valueBefore(decls, text, trimEnd(text, end), depth + 1)
}

/**
 * When `name` at `at` is a parameter of an enclosing arrow function given to a
 * call, the type that call declares for it (undefined when it is not one).
 */
function arrowParam(decls, text, name, at, depth) {
  const floor = Math.max(0, at - LOOK_BACK)
  const before = text.slice(floor, at)
  const re = /(?:\(([^()]*)\)|([\w$]+))\s*=>/g
  const candidates = []
  for (let m; (m = re.exec(before));) {
    const names = (m[1] ?? m[2]).split(',').map(p => p.trim().split(/[\s:=]/)[0])
    const index = names.indexOf(name)
    if (index >= 0) candidates.push({ index, start: floor + m.index })
  }
  // The nearest arrow whose call is still open at `at` binds the name.
  for (const found of candidates.reverse()) {
    const call = enclosingCall(text, found.start)
    if (!call || closes(text, call.open, at)) continue
    const callee = valueBefore(decls, text, call.open, depth + 1)
    // The first overload taking a function there; in `T | ((x: A) => T)`, the
    // function among the union's members gives the parameter.
    for (const sig of callee?.calls || []) {
      const fn = functionIn(decls, sig.params[call.argument]?.type || '', sig.scope, 0)
      if (fn) return fn[found.index] ? decls.instance(fn[found.index].type, sig.scope) : null
    }
    return null
  }
  return undefined
}

/** The parameters of the function type in `type`, through unions and aliases (null: none). */
function functionIn(decls, type, scope, depth) {
  for (const part of splitTop(type, '|')) {
    const expanded = decls.expand(part, scope)
    const fn = functionParams(expanded) ||
      (expanded !== part && depth < 4 ? functionIn(decls, expanded, scope, depth + 1) : null)
    if (fn) return fn
  }
  return null
}

/** The call whose argument list holds `i`: its `(` and which argument `i` is in. */
function enclosingCall(text, i) {
  let argument = 0
  for (;;) {
    i = skipBlank(text, i, 0)
    const c = text[i - 1]
    if (c === undefined || '[{;'.includes(c)) return null
    if (c === '(') return { open: i - 1, argument }
    if (c === ',') argument++
    if (')]}'.includes(c)) {
      const open = matchBack(text, i - 1, 0)
      if (open < 0) return null
      i = open
      continue
    }
    if (c === '"' || c === "'" || c === '`') {
      let j = i - 2
      while (j >= 0 && !(text[j] === c && text[j - 1] !== '\\')) j--
      if (j < 0) return null
      i = j
      continue
    }
    i--
  }
}

/** Whether the bracket opened at `open` is closed before `at`. */
function closes(text, open, at) {
  let depth = 0
  for (let i = open; i < at; i++) {
    const c = text[i]
    if (c === '"' || c === "'" || c === '`') {
      for (i++; i < at && !(text[i] === c && text[i - 1] !== '\\'); i++);
      continue
    }
    if ('([{'.includes(c)) depth++
    else if (')]}'.includes(c) && --depth === 0) return true
  }
  return false
}

/** Index after skipping blanks and comments backwards from `i`. */
function skipBlank(text, i, floor) {
  while (i > floor && /\s/.test(text[i - 1])) i--
  return i
}

/** The index of the bracket that opens the one closing at `close`, or -1. */
function matchBack(text, close, floor) {
  const pairs = { ')': '(', ']': '[', '}': '{' }
  const stack = []
  for (let i = close; i >= floor; i--) {
    const c = text[i]
    if (c === '"' || c === "'" || c === '`') {
      const q = c
      for (i--; i >= floor && !(text[i] === q && text[i - 1] !== '\\'); i--);
      continue
    }
    if (pairs[c]) stack.push(pairs[c])
    else if ('([{'.includes(c)) {
      if (stack.pop() !== c) return -1
      if (!stack.length) return i
    }
  }
  return -1
}

function trimEnd(text, end) {
  while (end > 0 && /\s/.test(text[end - 1])) end--
  return end
}

function escape(s) {
  return s.replace(/[$]/g, '\\$')
}

/** Completion options for `text` at `pos`: `{ from, options }` or null. */
export function completionsAt(decls, text, pos) {
  let from = pos
  while (from > 0 && IDENT.test(text[from - 1])) from--
  const dot = skipBlank(text, from, 0)
  if (text[dot - 1] === '.' && text[dot - 2] !== '.') {
    const owner = valueBefore(decls, text, dot - 1)
    if (!owner) return null
    return { from, options: [...owner.members.values()].map(ms => ms[0]) }
  }
  return { from, options: [...decls.values.keys()].filter(k => !k.includes('.')).map(k => decls.values.get(k)[0]) }
}

/** The declarations a name at `pos` refers to: `{ from, to, decls }` or null. */
export function declarationsAt(decls, text, pos) {
  let from = pos
  let to = pos
  while (from > 0 && IDENT.test(text[from - 1])) from--
  while (to < text.length && IDENT.test(text[to])) to++
  if (from === to) return null
  const name = text.slice(from, to)
  const dot = skipBlank(text, from, 0)
  let found
  if (text[dot - 1] === '.' && text[dot - 2] !== '.') {
    found = valueBefore(decls, text, dot - 1)?.members.get(name)
  } else if (name !== '$') {
    found = decls.value(name) || (decls.type(name) ? [decls.type(name)] : null)
  }
  return found ? { from, to, decls: found } : null
}
