// The Admin console of the pipy repo: codebases as a tree of bases and
// derivatives, their files (own, edited, inherited, erased), an editor, the
// draft's check, and publishing. Routes live in the URL's hash:
// `#/` (start) and `#/cb/<codebase path>[?file=<file>]`.

import './style.css'
import * as api from './api.js'
import { h, fill } from './dom.js'
import { createEditor } from './editor.js'
import { lineDiff } from './diff.js'
import { renderReference } from './reference.js'
import { renderFleet } from './fleet.js'
import { renderProgram } from './program.js'
import { drawGraph } from './graph.js'

const nav = document.getElementById('codebases')
const workspace = document.getElementById('workspace')
const status = document.getElementById('status')

/** What the workspace shows now. */
const state = { cb: null, info: null, file: null, editor: null, dirty: false, error: null, stop: null, readOnly: false }

function say(text, kind = 'info') {
  status.textContent = text
  status.className = kind
}

function fail(e) {
  say(e.message || String(e), 'error')
  if (e.status === 401) askToken(e.message)
}

/** A guarded repo (pipy-operator's) wants a token: kept in a cookie, which
 *  its pages, API calls and log WebSockets then carry. */
function askToken(message) {
  const input = h('input', { type: 'password', 'aria-label': 'Token', autocomplete: 'off', size: 60 })
  fill(workspace, h('form.token', {
    onsubmit: e => {
      e.preventDefault()
      const token = input.value.trim()
      if (!token) return
      const secure = location.protocol === 'https:' ? '; Secure' : ''
      document.cookie = `pipy-token=${encodeURIComponent(token)}; path=/; SameSite=Strict${secure}`
      say('')
      refresh(true)
    },
  },
  h('h2', 'A token, please'),
  h('p', message),
  h('p', {}, 'A ServiceAccount token for this repo, for example ',
    h('code', 'kubectl create token NAME -n NAMESPACE --audience pipy-repo')),
  input, ' ', h('button.primary', { type: 'submit' }, 'Use it')))
  input.focus()
}

/** The view the URL's hash names. Codebase paths are encoded per segment in
 *  links, so names with `?`, `%`, `+` or spaces come back whole. */
function route() {
  const hash = location.hash.slice(1) || '/'
  const cut = hash.indexOf('?')
  const rawPath = cut < 0 ? hash : hash.slice(0, cut)
  const query = cut < 0 ? '' : hash.slice(cut + 1)
  let path
  try {
    path = rawPath.split('/').map(decodeURIComponent).join('/')
  } catch {
    return { cb: null, file: null }
  }
  if (path.startsWith('/cb/')) {
    const q = new URLSearchParams(query)
    return { cb: path.slice(3), file: q.get('file'), tab: q.get('tab') || 'files' }
  }
  if (path === '/reference') return { cb: null, file: null, view: 'reference' }
  if (path === '/program') return { cb: null, file: null, view: 'program' }
  return { cb: null, file: null }
}

const encodePath = p => p.split('/').map(encodeURIComponent).join('/')

const link = (cb, file, tab) => {
  const q = new URLSearchParams()
  if (file) q.set('file', file)
  if (tab && tab !== 'files') q.set('tab', tab)
  const qs = q.toString()
  return `#/cb${encodePath(cb)}${qs ? `?${qs}` : ''}`
}

// ---- Codebase tree -------------------------------------------------------

async function renderTree() {
  const names = await api.listCodebases()
  const infos = await Promise.all(names.map(n => api.codebaseInfo(n).catch(() => null)))
  const byBase = new Map()
  names.forEach((name, i) => {
    const base = infos[i]?.base || ''
    if (!byBase.has(base)) byBase.set(base, [])
    byBase.get(base).push(name)
  })
  const branch = (base, depth) => {
    const kids = byBase.get(base) || []
    if (!kids.length || depth > 32) return null
    return h('ul', { role: depth ? 'group' : 'tree' }, kids.map(name =>
      h('li', { role: 'treeitem' },
        h('a', {
          href: link(name),
          class: name === state.cb ? 'current' : '',
          'aria-current': name === state.cb ? 'page' : false,
        }, name),
        branch(name, depth + 1))))
  }
  fill(nav,
    h('div.bar',
      h('h2', {}, 'Codebases'),
      h('button.writes', { onclick: () => newCodebase(), title: 'New codebase' }, 'New')),
    branch('', 0) || h('p.empty', {}, 'No codebases yet.'))
}

async function newCodebase(base) {
  const name = prompt(base ? `Name of the codebase derived from ${base}:` : 'Name of the new codebase:', '/')
  if (!name) return
  const path = name.startsWith('/') ? name : `/${name}`
  // As upstream's console: no codebase inside another one's path (the API
  // would read `/a/b` as the file `/b` of `/a`).
  const names = await api.listCodebases().catch(() => [])
  const clash = names.find(n => n === path || path.startsWith(`${n}/`) || n.startsWith(`${path}/`))
  if (clash) {
    say(clash === path ? `${path} exists already` : `${path} would nest with ${clash}`, 'error')
    return
  }
  try {
    await api.createCodebase(path, base)
    say(`Created ${path}`)
    location.hash = link(path)
  } catch (e) { fail(e) }
}

// ---- One codebase ----------------------------------------------------------

function fileKinds(info) {
  const own = new Set(info.files)
  const edited = new Set(info.editFiles)
  const erased = new Set(info.erasedFiles)
  const all = new Set([...info.files, ...info.editFiles, ...info.baseFiles, ...info.erasedFiles])
  return [...all].sort().map(name => {
    let kind = 'inherited'
    if (erased.has(name)) kind = 'erased'
    else if (edited.has(name)) kind = 'edited'
    else if (own.has(name)) kind = 'own'
    return { name, kind }
  })
}

async function renderCodebase(cb, file, tab = 'files', keep = stop => { state.stop = stop }) {
  const info = await api.codebaseInfo(cb)
  state.info = info
  const files = fileKinds(info)
  const changed = info.editFiles.length > 0 || info.erasedFiles.length > 0
  const tabs = h('div.tabs', { role: 'tablist' }, [['files', 'Files'], ['fleet', 'Fleet'], ['graph', 'Graph']].map(([t, label]) =>
    h('a', { href: link(cb, file, t), role: 'tab', 'aria-selected': String(t === tab), class: t === tab ? 'current' : '' }, label)))
  const body = h('div.tabbody')
  fill(workspace,
    h('div.bar',
      h('h2', {}, cb),
      h('span.version', {}, `version ${info.version}`, info.base ? ` · derived from ${info.base}` : ''),
      changed ? h('span.tag.changed', {}, 'draft changed') : null,
      h('span.spacer'),
      h('button.writes', { onclick: () => newFile(cb) }, 'New file'),
      h('button', { onclick: () => check(cb) }, 'Check'),
      h('button.primary.writes', { onclick: () => publishDraft(cb) }, 'Publish'),
      h('button.writes', { onclick: () => newCodebase(cb) }, 'Derive'),
      h('button.danger.writes', { onclick: () => removeCodebase(cb) }, 'Delete')),
    tabs, body)
  if (tab === 'fleet') {
    keep(renderFleet(body, cb))
    return
  }
  if (tab === 'graph') {
    await renderGraph(body, cb, info)
    return
  }
  const fileList = h('ul.files', { role: 'listbox', 'aria-label': 'Files' }, files.map(f =>
    h('li', { class: `${f.kind}${f.name === file ? ' current' : ''}` },
      h('a', { href: link(cb, f.name), title: f.kind }, f.name),
      f.name === info.main ? h('span.tag', {}, 'main') : null,
      f.kind !== 'own' ? h('span.tag', {}, f.kind) : null)))
  const editorPane = h('div.editor')
  fill(body, h('div.split', h('aside', {}, fileList), editorPane))
  if (file) await openFile(cb, file, editorPane)
  else fill(editorPane, h('p.empty', {}, 'Pick a file to edit it.'))
}

/** The pipeline graphs of the draft's modules, from the repo's dry run of
 *  every file as a worker would load them (imports included). */
async function renderGraph(root, cb, info) {
  try {
    const r = await api.checkDraft(cb)
    if (!r.ok) {
      fill(root, h('p.error', {}, r.error))
      return
    }
    // The main module first, then the others in path order.
    const paths = Object.keys(r.modules || {}).sort((a, b) => (a === info.main ? -1 : b === info.main ? 1 : a.localeCompare(b)))
    fill(root,
      h('p.version', paths.length
        ? `Pipelines of the draft, as a worker would build them: ${paths.length} module${paths.length === 1 ? '' : 's'}`
        // As upstream's graphs: only a module whose value is a Configuration is drawn.
        : 'The draft loads, but none of its modules is a Configuration (pipy().…), so there is no graph to draw; modules written in statements (pipy.listen) are not drawn.'),
      paths.map(path => h('section.module', { dataset: { module: path } },
        h('h3', {}, h('code', path), path === info.main ? h('span.tag', 'main') : null),
        drawGraph(r.modules[path].graph || {}))))
  } catch (e) {
    fill(root, h('p.error', {}, e.message))
  }
}

async function openFile(cb, file, pane) {
  state.editor?.destroy()
  state.editor = null
  state.dirty = false
  let text = ''
  try { text = await api.readFile(cb, file) } catch (e) { if (e.status !== 404) throw e }
  const body = h('div.code')
  const saveButton = h('button.primary.writes', { onclick: () => save() }, 'Save')
  fill(pane,
    h('div.bar',
      h('strong', {}, file),
      h('span.spacer'),
      saveButton,
      h('button', { onclick: () => showChanges(cb, file) }, 'Changes'),
      state.info.main !== file ? h('button.writes', { onclick: () => makeMain(cb, file) }, 'Set main') : null,
      h('button.writes', { onclick: () => discard(cb, file) }, 'Discard'),
      h('button.danger.writes', { onclick: () => removeFile(cb, file) }, 'Delete file')),
    body,
    h('div.diff', { hidden: true }))
  const save = async () => {
    try {
      await api.writeFile(cb, file, state.editor.text())
      state.dirty = false
      say(`Saved ${file}`)
      await check(cb, true)
      await refresh()
    } catch (e) { fail(e) }
  }
  state.editor = createEditor(body, text, { readOnly: state.readOnly, onSave: save, onChange: () => { state.dirty = true } })
  if (state.error && state.error.file === file) state.editor.mark(state.error)
}

async function showChanges(cb, file) {
  const box = workspace.querySelector('.diff')
  if (!box.hidden) { box.hidden = true; return }
  const published = (await api.publishedFile(cb, file)) ?? ''
  const lines = lineDiff(published, state.editor.text())
  fill(box, h('h3', {}, `${file}: draft against the published version`),
    h('pre', {}, lines.map(([k, l]) => h(`span.${k === '+' ? 'add' : k === '-' ? 'del' : 'same'}`, {}, `${k} ${l}\n`))))
  box.hidden = false
}

/** The draft's dry run; marks the error in the editor when it is in the open file. */
async function check(cb, quiet) {
  try {
    const r = await api.checkDraft(cb)
    state.error = r.ok ? null : r
    state.editor?.mark(r.ok || r.file !== state.file ? null : r)
    if (r.ok) { if (!quiet) say('The draft loads without errors') }
    else say(r.file ? `${r.file}:${r.line}:${r.column}: ${r.message}` : r.error, 'error')
    return r
  } catch (e) { fail(e); return null }
}

async function publishDraft(cb) {
  if (state.dirty && state.editor && state.file) {
    try {
      await api.writeFile(cb, state.file, state.editor.text())
      state.dirty = false
    } catch (e) { fail(e); return }
  }
  const r = await check(cb, true)
  if (r && !r.ok && !confirm(`The draft does not load:\n\n${r.error}\n\nPublish it anyway?`)) return
  try {
    const info = await api.codebaseInfo(cb)
    const next = (parseInt(info.version, 10) || 0) + 1
    await api.publish(cb, next)
    say(`Published ${cb} version ${next}`)
    await refresh()
  } catch (e) { fail(e) }
}

async function newFile(cb) {
  const name = prompt('Name of the new file:', '/')
  if (!name) return
  const file = name.startsWith('/') ? name : `/${name}`
  try {
    await api.writeFile(cb, file, '')
    location.hash = link(cb, file)
  } catch (e) { fail(e) }
}

async function makeMain(cb, file) {
  try { await api.setMain(cb, file); say(`${file} is now main`); await refresh() } catch (e) { fail(e) }
}

async function discard(cb, file) {
  if (!confirm(`Discard the draft changes of ${file}?`)) return
  try { await api.discardFile(cb, file); await refresh(true) } catch (e) { fail(e) }
}

async function removeFile(cb, file) {
  if (!confirm(`Delete ${file}?`)) return
  try { await api.deleteFile(cb, file); location.hash = link(cb) } catch (e) { fail(e) }
}

async function removeCodebase(cb) {
  if (!confirm(`Delete the codebase ${cb}?`)) return
  try { await api.deleteCodebase(cb); say(`Deleted ${cb}`); location.hash = '#/' } catch (e) { fail(e) }
}

// ---- Routing ----------------------------------------------------------------

let generation = 0

async function refresh(reopen) {
  const { cb, file, view, tab } = route()
  const mine = ++generation
  state.stop?.()
  state.stop = null
  // A view that finishes after a newer navigation stops at once.
  const keep = stop => {
    if (mine === generation) state.stop = stop
    else stop?.()
  }
  const sameFile = cb === state.cb && file === state.file && state.editor && !reopen && (tab || 'files') === 'files'
  state.cb = cb
  state.file = file
  try {
    await renderTree()
    if (!cb) {
      state.editor?.destroy()
      state.editor = null
      if (view === 'reference') renderReference(workspace)
      else if (view === 'program') keep(await renderProgram(workspace, say))
      else fill(workspace, h('p.empty', {}, 'Pick a codebase, or make a new one.'))
      return
    }
    if (sameFile) {
      // Keep the open editor (and what is typed in it); redraw the rest.
      const keep = state.editor
      const text = keep.text()
      const wasDirty = state.dirty
      state.editor = null
      await renderCodebase(cb, null)
      const pane = workspace.querySelector('.editor')
      await openFile(cb, file, pane)
      const dirty = wasDirty
      state.editor.view.dispatch({ changes: { from: 0, to: state.editor.view.state.doc.length, insert: text } })
      state.dirty = dirty
      keep.destroy()
      if (state.error?.file === file) state.editor.mark(state.error)
      return
    }
    await renderCodebase(cb, file, tab, keep)
  } catch (e) { fail(e) }
}

// Arrow keys move between the entries of the codebase tree and file list.
for (const list of [nav, workspace]) {
  list.addEventListener('keydown', e => {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return
    const group = e.target.closest('nav, ul.files')
    if (!group || e.target.tagName !== 'A') return
    const links = [...group.querySelectorAll('a')]
    const i = links.indexOf(e.target) + (e.key === 'ArrowDown' ? 1 : -1)
    if (links[i]) { e.preventDefault(); links[i].focus() }
  })
}

// Upstream's console lives at /repo/<codebase>: such a page opens here too.
if (location.pathname.startsWith('/repo/') && !location.hash) {
  // The path is already encoded segment by segment, as links here are.
  history.replaceState(null, '', `/#/cb${location.pathname.slice(5).replace(/\/$/, '')}`)
}

// A read-only repo (pipy-operator's: Codebase resources are the source of
// truth) shows everything and changes nothing: the body's class hides the
// controls that write, and a banner says why.
// Known before the first view, so that its editor is made read-only too.
const ready = api.consoleInfo().then(c => {
  if (!c.readOnly) return
  state.readOnly = true
  document.body.classList.add('read-only')
  document.getElementById('top').append(h('span.tag.changed', { title: c.why || '' }, 'read-only'))
}).catch(e => say(e.message, 'error'))

let shownHash = location.hash
window.addEventListener('beforeunload', e => {
  if (state.dirty) e.preventDefault()
})
window.addEventListener('hashchange', () => {
  if (location.hash === shownHash) return
  if (state.dirty && !confirm('Leave without saving?')) {
    history.replaceState(null, '', shownHash || '#/')
    return
  }
  shownHash = location.hash
  state.error = state.error && route().cb === state.cb ? state.error : null
  refresh(true)
})
ready.then(() => refresh(true))
