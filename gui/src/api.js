// The repo's REST API (shared/spec/repo-api.md §4): every call the console
// makes goes through here. Errors carry the repo's text.

async function call(method, path, body, type) {
  const init = { method, headers: {} }
  if (body !== undefined) {
    init.body = body
    init.headers['content-type'] = type || 'text/plain'
  }
  const res = await fetch(path, init)
  const text = await res.text()
  if (!res.ok) {
    const err = new Error(text || `${res.status} ${res.statusText}`)
    err.status = res.status
    throw err
  }
  return text
}

const enc = path => path.split('/').map(encodeURIComponent).join('/')

export async function listCodebases() {
  const text = await call('GET', '/api/v1/repo')
  return text ? text.split('\n') : []
}

export async function codebaseInfo(cb) {
  return JSON.parse(await call('GET', `/api/v1/repo${enc(cb)}`))
}

export const createCodebase = (cb, base) =>
  call('POST', `/api/v1/repo${enc(cb)}`, JSON.stringify(base ? { base } : {}), 'application/json')

export const deleteCodebase = cb => call('DELETE', `/api/v1/repo${enc(cb)}`)

export const readFile = (cb, file) => call('GET', `/api/v1/repo-files${enc(cb)}${enc(file)}`)

export const writeFile = (cb, file, content) =>
  call('POST', `/api/v1/repo-files${enc(cb)}${enc(file)}`, content)

export const deleteFile = (cb, file) => call('DELETE', `/api/v1/repo-files${enc(cb)}${enc(file)}`)

export const discardFile = (cb, file) => call('PATCH', `/api/v1/repo-files${enc(cb)}${enc(file)}`)

export const setMain = (cb, main) =>
  call('PATCH', `/api/v1/repo${enc(cb)}`, JSON.stringify({ main }), 'application/json')

export const publish = (cb, version) =>
  call('PATCH', `/api/v1/repo${enc(cb)}`, JSON.stringify({ version: String(version) }), 'application/json')

/** The dry run of the draft: `{ok}` or `{ok:false, error, file, line, column, message}`. */
export async function checkDraft(cb) {
  return JSON.parse(await call('POST', `/api/v1/check${enc(cb)}`, ''))
}

/** The published content of a file (what workers run), or null. */
export async function publishedFile(cb, file) {
  const res = await fetch(`/repo${enc(cb)}${enc(file)}`, { headers: { accept: 'text/plain' } })
  return res.ok ? res.text() : null
}

/** An instance's metrics: `[{k, t, l, v}]`. */
export async function instanceMetrics(uuid) {
  return JSON.parse(await call('GET', `/api/v1/metrics/${encodeURIComponent(uuid)}/`)).metrics || []
}

export const program = () => call('GET', '/api/v1/program')
export const runProgram = cb => call('POST', '/api/v1/program', cb)
export const reloadProgram = cb => call('PATCH', '/api/v1/program', cb)
export const stopProgram = () => call('DELETE', '/api/v1/program')

/** What this repo lets the console do: `{readOnly, why}`. */
export async function consoleInfo() {
  try { return JSON.parse(await call('GET', '/api/v1/console')) } catch { return { readOnly: false } }
}

/** One metric of an instance, with its sub-series: `[{k, t, l, v, s}]`. */
export async function instanceMetric(uuid, name) {
  return JSON.parse(await call('GET', `/api/v1/metrics/${encodeURIComponent(uuid)}/${encodeURIComponent(name)}`)).metrics || []
}
