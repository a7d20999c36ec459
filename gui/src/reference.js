// The built-in reference: every filter and API class of this build, whether
// it is supported, and what it does, searchable. Generated from the same
// tables as the README (sidecar/runtime/src/support.rs writes reference.json).

import entries from './reference.json'
import { h, fill } from './dom.js'

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
    e.members?.length ? h('p.members', 'Members: ', e.members.join(', ')) : null,
    e.missing?.length ? h('p.members', 'Not yet: ', e.missing.join(', ')) : null,
    e.source ? h('p.source', 'Source: ', h('code', e.source)) : null)
}
