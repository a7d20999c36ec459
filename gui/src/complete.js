// Completion and hover help in the editor, from the built-in reference (the
// declarations of this build's API: filters, classes and their members).

import { javascriptLanguage } from '@codemirror/lang-javascript'
import { hoverTooltip } from '@codemirror/view'
import entries from './reference.json'

const filters = entries.filter(e => e.kind === 'filter' && e.supported)
const classes = entries.filter(e => e.kind === 'class' && e.supported)
const byName = new Map(entries.map(e => [e.name, e]))

/** Completes `Class.member`, a filter after `.` in a pipeline chain, or a global. */
function source(context) {
  const member = context.matchBefore(/[\w$.]*\.[\w$]*$/)
  if (member) {
    const dot = member.text.lastIndexOf('.')
    const owner = member.text.slice(0, dot)
    const cls = byName.get(owner)
    const from = member.from + dot + 1
    if (cls?.kind === 'class') {
      return {
        from,
        options: (cls.members || []).filter(m => m !== '(class)').map(m => ({ label: m, type: 'property', detail: owner })),
      }
    }
    return {
      from,
      options: filters.map(f => ({ label: f.name, type: 'function', detail: f.signature || 'filter', info: f.summary || undefined })),
    }
  }
  const word = context.matchBefore(/[\w$]+$/)
  if (!word && !context.explicit) return null
  const globals = [...new Set(classes.map(c => c.name.split('.')[0]))]
  return {
    from: word ? word.from : context.pos,
    options: globals.map(g => ({ label: g, type: 'class', detail: 'API' })),
  }
}

/** The reference's word on a name under the pointer. */
const hover = hoverTooltip((view, pos) => {
  const line = view.state.doc.lineAt(pos)
  const text = line.text
  const isWord = c => c !== undefined && /[\w$]/.test(c)
  let at = pos - line.from
  if (!isWord(text[at]) && isWord(text[at + 1])) at++
  let start = at
  let end = at
  while (start > 0 && isWord(text[start - 1])) start--
  while (end < text.length && isWord(text[end])) end++
  if (start === end) return null
  // `Class.member`: the owner's name before the dot.
  let from = start
  if (text[start - 1] === '.') {
    let o = start - 1
    while (o > 0 && /[\w$.]/.test(text[o - 1])) o--
    if (byName.has(text.slice(o, end))) from = o
  }
  const word = text.slice(from, end)
  const last = text.slice(start, end)
  const entry = byName.get(word) || byName.get(last)
  if (!entry) return null
  return {
    pos: line.from + from,
    end: line.from + end,
    above: true,
    create() {
      const dom = document.createElement('div')
      dom.className = 'hover-help'
      const title = document.createElement('strong')
      title.textContent = `${entry.signature || entry.name} (${entry.kind === 'class' ? 'API' : entry.kind})`
      dom.append(title)
      const body = document.createElement('p')
      body.textContent = entry.summary || (entry.members ? `Members: ${entry.members.join(', ')}` : '')
      dom.append(body)
      return { dom }
    },
  }
})

/** Editor extensions: completion source and hover help. */
export const apiHelp = [javascriptLanguage.data.of({ autocomplete: source }), hover]
