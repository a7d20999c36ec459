// A live log: the repo relays a worker's log (or its own, for an empty uuid)
// over a WebSocket on /api/v1/log/<uuid>/<name> once sent `watch`. Lines are
// text; at most MAX_LINES stay on screen. Follow keeps the newest in view;
// Pause holds new lines (bounded too) until resumed.

import { h, fill } from './dom.js'

const MAX_LINES = 5000

/** Opens the log in `root`; returns a function that closes it. */
export function openLog(root, uuid, name, title) {
  const pre = h('pre.log', { tabindex: 0, 'aria-label': `Log ${name}` })
  const follow = h('input', { type: 'checkbox', checked: true })
  const pause = h('button', {}, 'Pause')
  const state = h('span.version', {}, 'connecting…')
  let paused = false
  let held = []
  const lines = []
  const show = () => {
    if (lines.length > MAX_LINES) lines.splice(0, lines.length - MAX_LINES)
    pre.textContent = lines.join('\n')
    if (follow.checked) pre.scrollTop = pre.scrollHeight
  }
  const take = text => {
    const parts = text.split('\n')
    if (parts[parts.length - 1] === '') parts.pop()
    if (paused) {
      held.push(...parts)
      if (held.length > MAX_LINES) held.splice(0, held.length - MAX_LINES)
      state.textContent = `paused, ${held.length} new lines held`
      return
    }
    lines.push(...parts)
    show()
  }
  pause.addEventListener('click', () => {
    paused = !paused
    pause.textContent = paused ? 'Resume' : 'Pause'
    if (!paused) { lines.push(...held); held = []; state.textContent = 'live'; show() }
    else state.textContent = 'paused'
  })
  fill(root,
    h('div.bar', h('strong', title || name), state, h('span.spacer'),
      h('label', {}, follow, ' Follow'), pause),
    pre)
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:'
  const ws = new WebSocket(`${proto}//${location.host}/api/v1/log/${encodeURIComponent(uuid)}/${encodeURIComponent(name)}`)
  ws.onopen = () => { ws.send('watch\n'); state.textContent = 'live' }
  ws.onmessage = e => take(String(e.data))
  ws.onclose = () => { state.textContent = 'closed' }
  return () => ws.close()
}
