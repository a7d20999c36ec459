// A pipeline graph (`{roots, nodes}`: what /api/v1/graph and the workers'
// status reports carry) drawn as nested boxes: each root with its filters in
// order, joints holding the sub-pipelines they start.

import { h } from './dom.js'

const KIND = { root: 'root', pipeline: 'pipeline', joint: 'joint', filter: 'filter' }

/** The graph as elements. */
export function drawGraph(graph) {
  const nodes = graph.nodes || []
  const seen = new Set()
  const node = (i, depth) => {
    const n = nodes[i]
    if (!n || seen.has(i) || depth > 64) return null
    seen.add(i)
    const kind = KIND[n.t] || 'filter'
    const kids = (n.c || []).map(c => node(c, depth + 1)).filter(Boolean)
    const detail = [n.st, n.ot && `out: ${n.ot}`].filter(Boolean).join(', ')
    return h(`div.node.${kind}`, { role: 'treeitem', 'aria-label': `${kind} ${n.name}` },
      h('div.label', {}, h('span.kind', kind), ' ', n.name, detail ? h('span.version', ` (${detail})`) : null),
      kids.length ? h('div.kids', { role: 'group' }, kids) : null)
  }
  return h('div.graph', { role: 'tree' }, (graph.roots || []).map(r => node(r, 0)))
}
