// A codebase's fleet: the workers that run it (from the instances its info
// carries), the version each runs (a rollout shows while they differ from
// the published one), their metrics added up and one by one, and a live log.

import * as api from './api.js'
import { h, fill } from './dom.js'
import { addSeries, chart, detailChart, sumMetrics } from './charts.js'
import { openLog } from './logview.js'

const POLL_MS = 2000

/** Shows the fleet of `cb` in `root`; returns a function that stops it. */
export function renderFleet(root, cb) {
  let stopped = false
  let closeLog = null
  let picked = null // uuid whose metrics show; null: all of them
  const summary = h('div.bar')
  const table = h('table.instances')
  const charts = h('div.charts')
  const detail = h('div.detailpane')
  const logPane = h('div.logpane')
  let detailed = null // the metric whose series show
  fill(root, summary, table, h('h3', {}, 'Metrics'), charts, detail, logPane)
  const open = e => {
    const fig = e.target.closest('figure.chart')
    if (fig) { detailed = fig.dataset.metric; showDetail() }
  }
  charts.addEventListener('click', open)
  charts.addEventListener('keydown', e => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); open(e) } })
  let lastUuids = []
  const showDetail = async () => {
    if (!detailed) return
    const lists = await Promise.all(lastUuids.map(u => api.instanceMetric(u, detailed).catch(() => [])))
    const merged = lists.flat().filter(m => m.k === detailed)
    if (!merged.length) { fill(detail); return }
    // The instances' histories add up, and so do series of the same label.
    const first = { ...sumMetrics(merged.map(m => [m]))[0], s: [] }
    const byLabel = new Map()
    for (const m of merged) for (const s of (m.s || [])) {
      const cur = byLabel.get(s.k)
      if (!cur) byLabel.set(s.k, { k: s.k, v: s.v || [] })
      else cur.v = addSeries(cur.v, s.v || [])
    }
    first.s = [...byLabel.values()]
    fill(detail, h('div.bar', h('span.spacer'), h('button', { onclick: () => { detailed = null; fill(detail) } }, 'Close')), detailChart(first))
  }

  let timer = null
  const tick = async () => {
    clearTimeout(timer)
    if (stopped) return
    try {
      const info = await api.codebaseInfo(cb)
      const list = Object.entries(info.instances || {}).map(([index, i]) => ({ index, ...i }))
      draw(info, list)
      const uuids = list.map(i => i.status?.uuid).filter(Boolean)
      const shown = picked && uuids.includes(picked) ? [picked] : uuids
      lastUuids = shown
      const metrics = await Promise.all(shown.map(u => api.instanceMetrics(u).catch(() => [])))
      const all = sumMetrics(metrics)
      fill(charts, all.length ? all.map(chart) : h('p.empty', 'No metrics reported yet.'))
      charts.dataset.scope = picked || 'all'
      await showDetail()
    } catch (e) {
      fill(summary, h('span.error', e.message))
    }
    if (!stopped) {
      clearTimeout(timer)
      timer = setTimeout(tick, POLL_MS)
    }
  }

  const draw = (info, list) => {
    const onVersion = list.filter(i => i.status?.version === info.version).length
    const rolling = list.length > 0 && onVersion < list.length
    fill(summary,
      h('h3', {}, `${list.length} instance${list.length === 1 ? '' : 's'}`),
      h('span.version', `published version ${info.version}; ${onVersion} on it`),
      rolling ? h('span.tag.changed', { dataset: { rollout: 'yes' } }, 'rollout in progress') : null,
      h('span.spacer'),
      h('button', { onclick: () => { picked = null; tick() } }, 'All metrics'))
    fill(table,
      h('thead', {}, h('tr', {}, ['#', 'instance', 'address', 'version', 'up since', 'last report', 'logs'].map(t => h('th', t)))),
      h('tbody', {}, list.map(i => {
        const s = i.status || {}
        return h('tr', { dataset: { uuid: s.uuid || '' } },
          h('td', i.index),
          h('td', {}, h('button.link', { onclick: () => { picked = s.uuid; tick() }, title: 'Show its metrics' }, s.name || (s.uuid || '').slice(0, 8))),
          h('td', i.ip || s.ip || ''),
          h('td', { class: s.version === info.version ? '' : 'behind' }, s.version || ''),
          h('td', s.since ? new Date(s.since).toLocaleString() : ''),
          h('td', i.timestamp ? `${Math.max(0, Math.round((Date.now() - i.timestamp) / 1000))} s ago` : ''),
          h('td', {}, (s.logs || []).map(name =>
            h('button', { onclick: () => { closeLog?.(); closeLog = openLog(logPane, s.uuid, name, `${name} of ${s.uuid}`) } }, name))))
      })))
  }

  tick()
  return () => { stopped = true; clearTimeout(timer); closeLog?.() }
}
