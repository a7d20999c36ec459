// A line diff (longest common subsequence) of a published file and its draft,
// for the editor's "Changes" view. Files are small; the table is bounded.

const LIMIT = 4000 * 4000

/** Lines of `a` and `b` as [' ', line], ['-', line] or ['+', line]. */
export function lineDiff(a, b) {
  const x = a.split('\n')
  const y = b.split('\n')
  if (x.length * y.length > LIMIT) {
    return [...x.map(l => ['-', l]), ...y.map(l => ['+', l])]
  }
  const n = x.length
  const m = y.length
  const t = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1))
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      t[i][j] = x[i] === y[j] ? t[i + 1][j + 1] + 1 : Math.max(t[i + 1][j], t[i][j + 1])
    }
  }
  const out = []
  let i = 0
  let j = 0
  while (i < n && j < m) {
    if (x[i] === y[j]) { out.push([' ', x[i]]); i++; j++ }
    else if (t[i + 1][j] >= t[i][j + 1]) out.push(['-', x[i++]])
    else out.push(['+', y[j++]])
  }
  while (i < n) out.push(['-', x[i++]])
  while (j < m) out.push(['+', y[j++]])
  return out
}
