// The built-in reference: every filter and API class of this build, whether
// it is supported, and what it does, searchable. Generated from the same
// tables as the README (sidecar/runtime/src/support.rs writes reference.json),
// with each name's declaration (src/types/*.d.ts) and its documentation.

import entries from './reference.json'
import { h, fill } from './dom.js'
import { declarations } from './complete.js'
import { signatureOf } from './declarations.js'

const configuration = declarations.instance('Configuration')

/** The declarations an entry names: a filter's methods, a class's or namespace's own and its members'. */
function declared(e) {
  if (e.kind === 'filter') return { own: configuration?.members.get(e.name) || [], members: [] }
  const own = declarations.value(e.name) || []
  const members = []
  const value = own.length ? declarations.fromValue(own) : declarations.global(e.name)
  for (const ms of value?.members.values() || []) members.push(ms[0])
  if (value?.constructs.length) {
    const instance = declarations.instance(e.name)
    for (const ms of instance?.members.values() || []) members.push(ms[0])
  }
  return { own, members }
}

const docs = new Map(entries.map(e => [e, declared(e)]))
const docText = e => { const d = docs.get(e); return [...d.own, ...d.members].map(x => `${x.name} ${x.doc || ''}`).join(' ') }

/** Shows the reference in `root`, filtered by what is typed in its search box. */
export function renderReference(root, query = '') {
  const list = h('div.entries')
  const search = h('input', {
    type: 'search',
    placeholder: 'Search filters, classes and members',
    'aria-label': 'Search the reference',
    value: query,
  })
  const show = () => {
    const q = search.value.trim().toLowerCase()
    const hits = entries.filter(e => !q ||
      e.name.toLowerCase().includes(q) ||
      (e.summary || '').toLowerCase().includes(q) ||
      docText(e).toLowerCase().includes(q) ||
      (e.members || []).some(m => m.toLowerCase().includes(q)))
    fill(list, hits.length ? hits.map(entry) : h('p.empty', 'Nothing matches.'))
  }
  search.addEventListener('input', show)
  fill(root,
    h('div.bar', h('h2', 'Reference'), h('span.version', `${entries.length} entries`), search),
    list)
  show()
  search.focus()
}

function entry(e) {
  const kind = e.kind === 'class' ? 'API' : e.kind === 'guide' ? 'guide' : 'filter'
  return h('article.entry', { id: `ref-${e.name}` },
    h('h3', {},
      h('code', e.signature || e.name),
      h('span.tag', kind),
      h('span.tag', e.group),
      e.supported ? null : h('span.tag.changed', 'not yet')),
    e.summary ? h('p', e.summary) : null,
    declaration(docs.get(e)),
    e.members?.length ? h('p.members', 'Members: ', e.members.join(', ')) : null,
    e.missing?.length ? h('p.members', 'Not yet: ', e.missing.join(', ')) : null,
    e.source ? h('p.source', 'Source: ', h('code', e.source)) : null)
}

/** An entry's declarations: signatures, the first documentation, and its members'. */
function declaration({ own, members }) {
  if (!own.length && !members.length) return null
  const doc = own.find(d => d.doc)?.doc
  return h('div.declaration', {},
    own.map(d => h('pre', signatureOf(d))),
    doc ? h('p', doc.split(/\n(?=@)/)[0].replace(/\s+/g, ' ')) : null,
    members.length
      ? h('details', {}, h('summary', `${members.length} declared members`),
        h('dl', {}, members.flatMap(m => [h('dt', {}, h('code', signatureOf(m))), h('dd', (m.doc || '').split(/\n(?=@)/)[0].replace(/\s+/g, ' '))])))
      : null)
}
