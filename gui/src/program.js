// The repo's own program (/api/v1/program): a codebase's draft run inside
// the repo process. Run, reload and stop it, and watch its log.

import * as api from './api.js'
import { h, fill } from './dom.js'
import { openLog } from './logview.js'

/** Shows the program view in `root`; returns a function that closes it. */
export async function renderProgram(root, say) {
  let closeLog = null
  const names = await api.listCodebases()
  const running = await api.program()
  const pick = h('select', { 'aria-label': 'Codebase to run' },
    names.map(n => h('option', { value: n, selected: n === running }, n)))
  const act = f => async () => {
    try { await f(); await renderProgram(root, say).then(c => { closeLog?.(); closeLog = c }) } catch (e) { say(e.message, 'error') }
  }
  const logPane = h('div.logpane')
  fill(root,
    h('div.bar',
      h('h2', 'Program'),
      h('span.version', running ? `running ${running}` : 'not running'),
      h('span.spacer'),
      pick,
      h('button.primary.writes', { onclick: act(() => api.runProgram(pick.value)) }, 'Run'),
      h('button.writes', { onclick: act(() => api.reloadProgram(pick.value)), disabled: !running }, 'Reload'),
      h('button.danger.writes', { onclick: act(() => api.stopProgram()), disabled: !running }, 'Stop')),
    logPane)
  closeLog = openLog(logPane, '', 'pipy_log', 'the repo\u2019s log')
  return () => closeLog?.()
}
