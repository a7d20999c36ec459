// Metric charts: each metric's history (up to 60 samples, one per 5 s, oldest
// first, from /api/v1/metrics) as a small line chart with its latest value.
// Sub-series (labels) are summed into the line. A histogram (`t` is
// `Histogram[bounds]`, `v` one history per bucket, then count and sum, each a
// running total) shows how the last interval's observations fall into its
// buckets, and its percentiles per interval over time.

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
  if (isHistogram(metric)) return histogramDetail(metric)
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
  if (isHistogram(metric)) return histogramChart(metric)
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
  return h('figure.chart', { dataset: { metric: metric.k }, tabindex: 0, title: 'Open its series' },
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
      if (!cur) { byName.set(m.k, { k: m.k, t: m.t, l: m.l, v: structuredClone(m.v || []) }); continue }
      cur.v = addSeries(cur.v, m.v || [])
    }
  }
  return [...byName.values()].sort((x, y) => x.k.localeCompare(y.k))
}

/** Two histories added up; a histogram's (one history per dimension) dimension by dimension. */
export function addSeries(a, b) {
  if (Array.isArray(a[0]) || Array.isArray(b[0])) {
    const dims = Math.max(a.length, b.length)
    return Array.from({ length: dims }, (_, d) => addAligned(a[d] || [], b[d] || []))
  }
  return addAligned(a, b)
}

/** Two histories added up, their newest samples aligned. */
function addAligned(a, b) {
  const n = Math.max(a.length, b.length)
  const out = new Array(n).fill(0)
  for (let i = 0; i < a.length; i++) out[n - a.length + i] += a[i]
  for (let i = 0; i < b.length; i++) out[n - b.length + i] += b[i]
  return out
}

/** Whether a metric is a histogram. */
export const isHistogram = m => (m.t || '').startsWith('Histogram')

/** A histogram's bucket upper bounds (`Infinity` for the last, "Inf"). */
export function bucketBounds(m) {
  try {
    return JSON.parse((m.t || '').slice((m.t || '').indexOf('['))).map(b => (b === 'Inf' ? Infinity : Number(b)))
  } catch {
    return []
  }
}

/**
 * Per sample, the observations made since the one before in each bucket
 * (the first sample counts from zero): the histogram's running totals
 * turned into intervals. A total that went down (a restart) counts afresh.
 */
export function intervals(m) {
  const n = bucketBounds(m).length
  const series = (m.v || []).slice(0, n)
  const len = Math.max(0, ...series.map(s => s.length))
  const out = []
  for (let i = 0; i < len; i++) {
    out.push(series.map(s => {
      const now = s[i] || 0
      const before = i > 0 ? s[i - 1] || 0 : 0
      return now >= before ? now - before : now
    }))
  }
  return out
}

/** The upper bound of the bucket where a share `p` of `counts` is reached (null when empty). */
export function percentile(counts, bounds, p) {
  const total = counts.reduce((a, b) => a + b, 0)
  if (!total) return null
  let sum = 0
  for (let i = 0; i < counts.length; i++) {
    sum += counts[i]
    if (sum >= p * total) return bounds[i]
  }
  return bounds.at(-1)
}

const bound = b => (b === null ? '–' : b === Infinity ? '> last bucket' : `≤ ${fmt(b)}`)

/** The bars of one interval's bucket counts in a `w`×`hgt` frame. */
function bars(svg, counts, w, hgt, color) {
  const max = Math.max(1, ...counts)
  const step = w / Math.max(1, counts.length)
  counts.forEach((c, i) => {
    const bh = (c / max) * (hgt - 2)
    svg.append(svgEl('rect', { x: (i * step + 1).toFixed(1), y: (hgt - bh).toFixed(1), width: Math.max(1, step - 2).toFixed(1), height: bh.toFixed(1), fill: color }))
  })
}

/** The latest interval with observations (or the last one). */
function latest(list) {
  for (let i = list.length - 1; i >= 0; i--) if (list[i].some(c => c > 0)) return list[i]
  return list.at(-1) || []
}

/** A histogram's small chart: its latest interval's buckets as bars, with p50 and p99. */
function histogramChart(metric) {
  const bounds = bucketBounds(metric)
  const counts = latest(intervals(metric))
  const svg = frame(W, H, `${metric.k}: ${counts.length} buckets`)
  bars(svg, counts, W, H, COLORS[0])
  const seen = counts.reduce((a, b) => a + b, 0)
  return h('figure.chart.histogram', { dataset: { metric: metric.k, observations: seen }, tabindex: 0, title: 'Open its percentiles' },
    h('figcaption', {}, h('code', metric.k), ' ',
      h('span.version', `Histogram · ${fmt(seen)} in 5 s · p50 ${bound(percentile(counts, bounds, 0.5))} · p99 ${bound(percentile(counts, bounds, 0.99))}`)),
    svg)
}

/** A histogram opened: p50, p90 and p99 per interval over time, and the latest buckets labelled. */
function histogramDetail(metric) {
  const bounds = bucketBounds(metric)
  const list = intervals(metric)
  const w = 640
  const hgt = 160
  const ps = [0.5, 0.9, 0.99]
  const series = ps.map(p => list.map(counts => percentile(counts, bounds, p)))
  // The scale is the highest finite percentile seen (at least the first
  // bound): what lies past the last finite bound draws at the top, an empty
  // interval at zero.
  const seen = series.flat().filter(Number.isFinite)
  const top = Math.max(bounds.find(Number.isFinite) ?? 1, ...seen)
  const svg = frame(w, hgt, `${metric.k}: percentiles over ${list.length} intervals`)
  series.forEach((values, n) => {
    svg.append(line(values.map(v => Math.min(v ?? 0, top)), top, w, hgt, 2, COLORS[n]))
  })
  const counts = latest(list)
  const barFrame = frame(w, 60, `${metric.k}: latest interval by bucket`)
  bars(barFrame, counts, w, 60, COLORS[0])
  return h('figure.detail.histogram', { dataset: { metric: metric.k } },
    h('figcaption', {}, h('code', metric.k), ' ', h('span.version', `Histogram · percentiles per 5 s, scale up to ${fmt(top)}`)),
    svg,
    h('ul.legend', {}, ps.map((p, n) => h('li', {}, h('span.swatch', { style: `background:${COLORS[n]}` }), `p${Math.round(p * 100)}: ${bound(percentile(counts, bounds, p))}`))),
    barFrame,
    h('ul.legend.buckets', {}, counts.map((c, i) => h('li', `${bound(bounds[i])}: ${fmt(c)}`))))
}
