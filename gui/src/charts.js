// Metric charts: each metric's history (up to 60 samples, one per 5 s, oldest
// first, from /api/v1/metrics) as a small line chart with its latest value.
// Sub-series (labels) are summed into the line.

import { h } from './dom.js'

const W = 220
const H = 48

const SVG = 'http://www.w3.org/2000/svg'

/** An SVG element with attributes. */
function svgEl(tag, attrs) {
  const el = document.createElementNS(SVG, tag)
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v))
  return el
}

/** A `w`×`hgt` chart frame labelled `label`. */
function frame(w, hgt, label) {
  return svgEl('svg', { viewBox: `0 0 ${w} ${hgt}`, width: w, height: hgt, role: 'img', 'aria-label': label })
}

/** The line of samples `v` scaled to `max` in a `w`×`hgt` frame, `pad` from its edges. */
function line(v, max, w, hgt, pad, color) {
  const step = v.length > 1 ? w / (v.length - 1) : w
  const points = v.map((y, i) => `${(i * step).toFixed(1)},${(hgt - (y / max) * (hgt - 2 * pad) - pad).toFixed(1)}`).join(' ')
  return svgEl('polyline', { points, fill: 'none', stroke: color, 'stroke-width': '1.5' })
}

const COLORS = ['#2458d6', '#1b7f3b', '#b3261e', '#7a4b00', '#6a3fb5', '#00838f', '#c2185b', '#5d6b00']

/** A chart of one metric with its sub-series (`s`: one line per label
 *  value, up to eight, with a legend): the detail a click on a chart opens. */
export function detailChart(metric) {
  const series = (metric.s || []).slice(0, COLORS.length)
  const all = series.length ? series : [{ k: metric.k, v: metric.v || [] }]
  const max = Math.max(1, ...all.flatMap(s => s.v || []))
  const w = 640
  const hgt = 160
  const svg = frame(w, hgt, `${metric.k}: ${all.length} series`)
  all.forEach((s, n) => svg.append(line(s.v || [], max, w, hgt, 2, COLORS[n])))
  return h('figure.detail', { dataset: { metric: metric.k } },
    h('figcaption', {}, h('code', metric.k), ' ', h('span.version', `${(metric.t || '').split('[')[0]} by ${metric.l || 'label'} · max ${fmt(max)}`)),
    svg,
    h('ul.legend', {}, all.map((s, n) => h('li', {}, h('span.swatch', { style: `background:${COLORS[n]}` }), `${s.k || '(none)'}: ${fmt((s.v || []).at(-1) || 0)}`))))
}

/** A chart of one metric `{k, t, v}`. */
export function chart(metric) {
  const v = metric.v || []
  const max = Math.max(1, ...v)
  const svg = frame(W, H, `${metric.k}: ${v.length} samples`)
  svg.append(line(v, max, W, H, 1, COLORS[0]))
  if (v.length === 1) {
    // One sample so far: a dot where the line will start.
    const dot = svgEl('circle', { cx: 3, cy: H - (v[0] / max) * (H - 2) - 1, r: 2.5, fill: COLORS[0] })
    svg.append(dot)
  }
  const last = v.length ? v[v.length - 1] : 0
  return h('figure.chart', { dataset: { metric: metric.k } },
    h('figcaption', {}, h('code', metric.k), ' ', h('span.version', `${(metric.t || '').split('[')[0]} · now ${fmt(last)} · max ${fmt(max)}`)),
    svg)
}

const fmt = n => (Math.abs(n) >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : Math.abs(n) >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(Math.round(n * 100) / 100))

/** Metrics of several instances added up by name (the fleet's view). */
export function sumMetrics(lists) {
  const byName = new Map()
  for (const list of lists) {
    for (const m of list) {
      const cur = byName.get(m.k)
      if (!cur) { byName.set(m.k, { k: m.k, t: m.t, v: [...(m.v || [])] }); continue }
      const a = cur.v
      const b = m.v || []
      // Align the newest samples.
      const n = Math.max(a.length, b.length)
      const out = new Array(n).fill(0)
      for (let i = 0; i < a.length; i++) out[n - a.length + i] += a[i]
      for (let i = 0; i < b.length; i++) out[n - b.length + i] += b[i]
      cur.v = out
    }
  }
  return [...byName.values()].sort((x, y) => x.k.localeCompare(y.k))
}
