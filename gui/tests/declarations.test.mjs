// The API's declarations (src/types/*.d.ts): valid TypeScript, complete for
// what this build supports (reference.json, generated from the runtime's own
// tables and a probe of its engine), documented, and enough for the editor to
// know what follows a dot. No browser needed.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { join, resolve, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Declarations, signatureOf } from '../src/declarations.js'
import { completionsAt, declarationsAt } from '../src/infer.js'

const gui = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const read = f => readFileSync(join(gui, f), 'utf8')
const decls = new Declarations(read('src/types/api.d.ts'), read('src/types/configuration.d.ts'))
const reference = JSON.parse(read('src/reference.json'))

test('the declarations are valid TypeScript (tsc, strict)', () => {
  execFileSync(join(gui, 'node_modules/.bin/tsc'), ['-p', gui], { stdio: 'pipe' })
})

test('Configuration declares exactly the filters this build supports', () => {
  const declared = new Set(decls.instance('Configuration').members.keys())
  const supported = reference.filter(e => e.kind === 'filter' && e.supported).map(e => e.name)
  const unsupported = reference.filter(e => e.kind === 'filter' && !e.supported).map(e => e.name)
  assert.deepEqual(supported.filter(f => !declared.has(f)), [], 'supported but not declared')
  assert.deepEqual(unsupported.filter(f => declared.has(f)), [], 'declared but not supported')
  const known = new Set(reference.filter(e => e.kind === 'filter').map(e => e.name))
  assert.deepEqual([...declared].filter(f => !known.has(f)), [], 'declared but unknown to the runtime')
})

test('every class, namespace and member the engine has is declared', () => {
  const missing = []
  for (const e of reference.filter(e => e.kind === 'class')) {
    const value = decls.global(e.name) || (decls.value(e.name) && decls.fromValue(decls.value(e.name)))
    if (!value) { missing.push(e.name); continue }
    const instance = decls.instance(e.name)
    for (const m of e.members) {
      if (m === '(class)') continue
      if (m === 'new') { if (!value.constructs.length) missing.push(`new ${e.name}`); continue }
      if (!value.members.has(m) && !instance?.members.has(m)) missing.push(`${e.name}.${m}`)
    }
  }
  assert.deepEqual(missing, [])
})

test('every declaration and member is documented', () => {
  const bare = []
  for (const [name, ds] of decls.values) if (!ds.some(d => d.doc)) bare.push(name)
  for (const [name, t] of decls.types) {
    for (const m of t.members || []) if (!m.doc && m.kind !== 'constructor' && m.kind !== 'call' && !t.members.some(o => o !== m && o.name === m.name && o.doc)) bare.push(`${name}.${m.name}`)
  }
  assert.deepEqual(bare, [])
})

/** The names completion offers at the end of `text`. */
const offered = text => completionsAt(decls, text, text.length)?.options.map(d => d.name) ?? null

test('completion follows chains, constructors, locals and callback parameters', () => {
  assert.ok(offered('pipy()\n  .listen(8080)\n  .').includes('serveHTTP'))
  assert.ok(offered('pipy().listen(8080, { maxConnections: 2 }).demuxHTTP().to($=>$.').includes('muxHTTP'))
  assert.ok(offered('new Data("a").push("b").').includes('size'))
  assert.ok(offered('Data.').includes('from'))
  assert.ok(offered('crypto.').includes('Hash'))
  assert.ok(offered('var h = new crypto.Hash("sha256")\nh.').includes('digest'))
  assert.ok(offered('pipy().listen(80).handleMessageStart(msg => msg.').includes('head'))
  assert.ok(offered('pipy().listen(80).handleMessageStart(\n  function(x) {}).replaceMessage(msg => msg.').includes('body'))
  assert.ok(offered('pipy.listen(80, $ => $.').includes('serveHTTP'))
  // A name bound by an arrow whose call has closed is not that parameter any more.
  assert.equal(offered('pipy().handleMessageStart(msg => 1).handleData(d => msg.'), null)
  assert.equal(offered('somethingUnknown.'), null)
  assert.equal(offered('"a string".'), null)
})

test('hover finds the declaration under the pointer', () => {
  const text = 'pipy().listen(8080).serveHTTP(new Message("hi"))'
  const at = declarationsAt(decls, text, text.indexOf('serveHTTP') + 3)
  assert.equal(at.from, text.indexOf('serveHTTP'))
  assert.match(signatureOf(at.decls[0]), /^serveHTTP\(/)
  assert.ok(at.decls[0].doc.length > 10)
  const cls = declarationsAt(decls, text, text.indexOf('Message') + 1)
  assert.equal(cls.decls[0].kind, 'class')
})

test('the reader takes bases, aliases and merged declarations', () => {
  const d = new Declarations(`
    interface A { /** Doc of x. */ x(): B; }
    interface B extends A, C { y: number; }
    interface C { z: string }
    type D = B;
    declare const d: D;
    /** A class. */
    declare class K { constructor(n: number); static make(): K; k: A; }
    declare namespace K { const version: string; }`)
  assert.deepEqual([...d.instance('B').members.keys()].sort(), ['x', 'y', 'z'])
  assert.deepEqual(completionsAt(d, 'd.x().', 6).options.map(o => o.name).sort(), ['x', 'y', 'z'])
  assert.deepEqual(completionsAt(d, 'K.', 2).options.map(o => o.name).sort(), ['make', 'version'])
  assert.deepEqual(completionsAt(d, 'new K(1).k.', 11).options.map(o => o.name), ['x'])
  assert.equal(declarationsAt(d, 'd.x()', 2).decls[0].doc, 'Doc of x.')
})

test('the reader refuses what it cannot read, naming the line', () => {
  assert.throws(() => new Declarations('interface A {\n  x: number;\n}\nenum B { C }'), /line 4: unexpected 'enum'/)
  assert.throws(() => new Declarations('declare class A {\n  f(: void;\n'), /line \d+: missing '\)'/)
})
