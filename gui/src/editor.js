// The file editor: CodeMirror 6 with JavaScript highlighting, line numbers
// and a lint gutter where the draft's check marks its error.

import { EditorView, basicSetup } from 'codemirror'
import { javascript } from '@codemirror/lang-javascript'
import { keymap } from '@codemirror/view'
import { EditorState } from '@codemirror/state'
import { setDiagnostics, lintGutter } from '@codemirror/lint'
import { apiHelp } from './complete.js'

/** An editor in `parent` holding `text`; `onSave` runs on Ctrl/Cmd-S. A
 *  read-only one (pipy-operator's repo) shows the text and takes no edits. */
export function createEditor(parent, text, { readOnly = false, onSave, onChange }) {
  const view = new EditorView({
    doc: text,
    parent,
    extensions: [
      basicSetup,
      javascript(),
      apiHelp,
      lintGutter(),
      keymap.of([{ key: 'Mod-s', preventDefault: true, run: () => { onSave(); return true } }]),
      EditorView.updateListener.of(u => { if (u.docChanged) onChange() }),
      EditorState.readOnly.of(readOnly),
      EditorView.editable.of(!readOnly),
    ],
  })
  return {
    view,
    text: () => view.state.doc.toString(),
    /** Marks an error at `line`:`column` (1-based), or clears the marks. */
    mark(error) {
      if (!error) {
        view.dispatch(setDiagnostics(view.state, []))
        return
      }
      const doc = view.state.doc
      const line = doc.line(Math.min(Math.max(error.line, 1), doc.lines))
      const from = Math.min(line.from + Math.max(error.column - 1, 0), line.to)
      view.dispatch(setDiagnostics(view.state, [{
        from,
        to: Math.max(from, line.to),
        severity: 'error',
        message: error.message || error.error,
      }]))
    },
    destroy: () => view.destroy(),
  }
}
