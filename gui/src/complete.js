// Completion and hover help in the editor, from the API's TypeScript-style
// declarations shipped with the console (src/types/*.d.ts): what can follow a
// dot, with each member's signature and documentation.

import { javascriptLanguage } from '@codemirror/lang-javascript'
import { hoverTooltip } from '@codemirror/view'
import apiText from './types/api.d.ts?raw'
import configurationText from './types/configuration.d.ts?raw'
import { Declarations, signatureOf } from './declarations.js'
import { completionsAt, declarationsAt } from './infer.js'

/** The declarations of this build's API, read once. */
export const declarations = new Declarations(apiText, configurationText)

const TYPES = { method: 'method', function: 'function', property: 'property', const: 'variable', class: 'class', namespace: 'namespace', interface: 'interface' }

function source(context) {
  const text = context.state.doc.toString()
  const found = completionsAt(declarations, text, context.pos)
  if (!found) return null
  const dotted = text[found.from - 1] === '.'
  if (!dotted && found.from === context.pos && !context.explicit) return null
  return {
    from: found.from,
    validFor: /^[\w$]*$/,
    options: found.options.map(d => ({
      label: d.name,
      type: TYPES[d.kind] || 'text',
      detail: signatureOf(d),
      info: d.doc ? () => docNode(d) : undefined,
    })),
  }
}

/** The declaration's documentation as text nodes: the summary, then its tags. */
function docNode(d) {
  const dom = document.createElement('div')
  dom.className = 'doc'
  for (const para of d.doc.split(/\n(?=@)|\n\s*\n/)) {
    const p = document.createElement('p')
    const tag = /^@(param|returns?)\s+(?:([\w$]+)\s+)?([\s\S]*)/.exec(para)
    if (tag) {
      const label = document.createElement('code')
      label.textContent = tag[1] === 'param' ? tag[2] : 'returns'
      p.append(label, ` ${tag[3].replace(/\s+/g, ' ')}`)
    } else p.textContent = para.replace(/\s+/g, ' ')
    dom.append(p)
  }
  return dom
}

/** The declarations' word on the name under the pointer. */
const hover = hoverTooltip((view, pos) => {
  const found = declarationsAt(declarations, view.state.doc.toString(), pos)
  if (!found) return null
  return {
    pos: found.from,
    end: found.to,
    above: true,
    create() {
      const dom = document.createElement('div')
      dom.className = 'hover-help'
      for (const d of found.decls.slice(0, 4)) {
        const sig = document.createElement('pre')
        sig.textContent = signatureOf(d)
        dom.append(sig)
      }
      const documented = found.decls.find(d => d.doc)
      if (documented) dom.append(docNode(documented))
      return { dom }
    },
  }
})

/** Editor extensions: completion source and hover help. */
export const apiHelp = [javascriptLanguage.data.of({ autocomplete: source }), hover]
