// Browser tests of the console: a real repo (the pipy binary, fresh store)
// and headless Chromium driven by playwright-core. Each test leaves a
// screenshot under target/console-screenshots/ for the reader.
//
// Run: node --test gui/tests/  (needs target/debug/pipy and /usr/bin/chromium;
// PIPY_BINARY and CHROMIUM override them).

import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import net from 'node:net'
import http from 'node:http'
import { chromium } from 'playwright-core'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const binary = process.env.PIPY_BINARY || join(root, 'target/debug/pipy')
const shots = join(root, 'target/console-screenshots')
mkdirSync(shots, { recursive: true })

let repo, port, browser

function freePort() {
  return new Promise((ok, bad) => {
    const s = net.createServer()
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => ok(p)) })
    s.on('error', bad)
  })
}

async function waitFor(what, f, ms = 15000) {
  const end = Date.now() + ms
  for (;;) {
    try { const v = await f(); if (v) return v } catch {}
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise(r => setTimeout(r, 100))
  }
}

/** A GET on a connection of its own (no keep-alive: a reload leaves open
 * connections on the old version). Resolves to the body text. */
const httpGet = url => new Promise((ok, bad) => {
  http.get(url, { agent: false }, res => {
    let body = ''
    res.setEncoding('utf8')
    res.on('data', d => { body += d })
    res.on('end', () => ok(body))
  }).on('error', bad)
})

const api = (method, path, body) =>
  fetch(`http://127.0.0.1:${port}${path}`, { method, body })

before(async () => {
  port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'pipy-console-'))
  repo = spawn(binary, [`--admin-port=127.0.0.1:${port}`], { cwd: dir, stdio: 'ignore' })
  await waitFor('the repo', async () => (await api('GET', '/api/v1/repo')).ok)
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox'],
  })
})

after(async () => {
  await browser?.close()
  repo?.kill()
})

async function newPage() {
  const page = await browser.newPage({ viewport: { width: 1366, height: 800 } })
  page.setDefaultTimeout(10000)
  return page
}

test('create a codebase, edit, see the error at its line, publish', async () => {
  const page = await newPage()
  await page.goto(`http://127.0.0.1:${port}/`)
  await page.getByText('No codebases yet.').waitFor()

  page.once('dialog', d => d.accept('/hello'))
  await page.getByRole('button', { name: 'New' }).click()
  await page.locator('nav a', { hasText: '/hello' }).waitFor()
  await page.locator('h2', { hasText: '/hello' }).waitFor()

  // The template's main file, in the editor.
  await page.locator('ul.files a', { hasText: '/main.js' }).click()
  const editor = page.locator('.cm-content')
  await editor.waitFor()
  await editor.click()
  await page.keyboard.press('Control+A')
  // insertText: as pasted (typing would have the editor close brackets).
  await page.keyboard.insertText("pipy()\n.listen(8080)\n.serveHTTP(new Message('hi'\n")
  await page.keyboard.press('Control+S')
  // The check marks the error on the line the engine names, and says where.
  await page.locator('#status.error').waitFor()
  const where = await page.locator('#status').textContent()
  assert.match(where, /^\/main\.js:\d+:\d+: /)
  const line = Number(where.split(':')[1])
  const marked = await waitFor('the error marker', async () => {
    const lines = await page.locator('.cm-gutter-lint .cm-gutterElement').evaluateAll(els =>
      els.map(e => ({ marked: !!e.querySelector('.cm-lint-marker-error'), top: e.offsetTop })))
    const numbers = await page.locator('.cm-lineNumbers .cm-gutterElement').evaluateAll(els =>
      els.map(e => ({ n: e.textContent, top: e.offsetTop })))
    const m = lines.find(l => l.marked)
    return m && numbers.find(n => n.top === m.top)?.n
  })
  assert.equal(Number(marked), line)
  await page.screenshot({ path: join(shots, '1-syntax-error-marked.png') })

  // Publishing a draft that fails its check asks first; say no.
  const [dialog] = await Promise.all([
    page.waitForEvent('dialog'),
    page.getByRole('button', { name: 'Publish' }).click(),
  ])
  assert.match(dialog.message(), /does not load/)
  await dialog.dismiss()
  assert.equal(JSON.parse(await (await api('GET', '/api/v1/repo/hello')).text()).version, '0')

  // Mend it, save, publish.
  await editor.click()
  await page.keyboard.press('Control+A')
  await page.keyboard.insertText("pipy()\n.listen(8080)\n.serveHTTP(new Message('hi'))\n")
  await page.keyboard.press('Control+S')
  await page.getByText('Saved /main.js').waitFor()
  await page.getByRole('button', { name: 'Publish' }).click()
  await page.getByText('Published /hello version 1').waitFor()
  const info = JSON.parse(await (await api('GET', '/api/v1/repo/hello')).text())
  assert.equal(info.version, '1')
  const published = await (await api('GET', '/repo/hello/main.js')).text()
  assert.match(published, /new Message\('hi'\)\)/)
  await page.locator('span.version', { hasText: 'version 1' }).waitFor()
  await page.screenshot({ path: join(shots, '2-published.png') })
  await page.close()
})

test('derived codebases show inherited files, and names are shown as text', async () => {
  const hostile = '/<img src=x onerror=window.pwned=1>'
  assert.equal((await api('POST', '/api/v1/repo/base', '')).status, 201)
  assert.equal((await api('POST', '/api/v1/repo/kid', JSON.stringify({ base: '/base' }))).status, 201)
  assert.equal((await api('POST', `/api/v1/repo${encodeURI(hostile)}`, '')).status, 201)
  assert.equal((await api('POST', '/api/v1/repo-files/base/<b>bold</b>.js', 'x')).status, 201)
  // Derivatives inherit what their base published.
  assert.equal((await api('PATCH', '/api/v1/repo/base', '{"version":"1"}')).status, 201)
  const page = await newPage()
  await page.goto(`http://127.0.0.1:${port}/#/cb/kid`)
  // The derivative sits under its base in the tree.
  await page.locator('nav li:has(> a:text-is("/base")) a:text-is("/kid")').waitFor()
  await page.locator('ul.files li.inherited a', { hasText: '/main.js' }).waitFor()
  await page.locator('ul.files li.inherited a', { hasText: '/<b>bold</b>.js' }).waitFor()
  await page.locator('nav a', { hasText: hostile }).waitFor()
  assert.equal(await page.locator('nav img, ul.files b').count(), 0)
  assert.equal(await page.evaluate(() => window.pwned), undefined)
  await page.screenshot({ path: join(shots, '3-derived-and-hostile-names.png') })
  await page.close()
})

test('the reference lists filters and classes, both module forms, and searches', async () => {
  const page = await newPage()
  await page.goto(`http://127.0.0.1:${port}/`)
  await page.getByRole('link', { name: 'Reference' }).click()
  await page.locator('article#ref-Modules').waitFor()
  assert.match(await page.locator('article#ref-Modules').textContent(), /two forms.*statements/s)
  await page.getByRole('searchbox').fill('muxfastcgi')
  await page.locator('article#ref-muxFastCGI').waitFor()
  const shown = await page.locator('article.entry').allTextContents()
  assert.ok(shown.length < 5 && shown.every(t => /muxfastcgi/i.test(t)), String(shown.length))
  assert.match(await page.locator('article#ref-muxFastCGI').textContent(), /FastCGI/)
  await page.getByRole('searchbox').fill('shiftWhile')
  await page.locator('article.entry h3 code', { hasText: /^Data$/ }).waitFor()
  await page.screenshot({ path: join(shots, '4-reference.png') })
  await page.close()
})

/** Writes `main.js` of `cb` (made if missing) and publishes it as `version`. */
async function publishScript(cb, script, version) {
  await api('POST', `/api/v1/repo${cb}`, '')
  assert.equal((await api('POST', `/api/v1/repo-files${cb}/main.js`, script)).status, 201)
  if (version) assert.equal((await api('PATCH', `/api/v1/repo${cb}`, JSON.stringify({ version: String(version) }))).status, 201)
}

test('fleet: a worker moves to the version published, its log and metrics show', async () => {
  const wport = await freePort()
  // A custom histogram too: the fleet view draws its buckets and percentiles.
  const script = v => `((h = new stats.Histogram('served_ms', [1, 5, 10, 100])) => pipy().listen(${wport}).serveHTTP(msg => (h.observe(3), console.log('served', msg.head.path), new Message('${v}'))))()`
  await publishScript('/fleet', script('v1'), 1)
  const dir = mkdtempSync(join(tmpdir(), 'pipy-worker-'))
  const worker = spawn(binary, [`http://127.0.0.1:${port}/repo/fleet/`], { cwd: dir, stdio: 'ignore' })
  try {
    await waitFor('the worker', async () => (await httpGet(`http://127.0.0.1:${wport}/`)) === 'v1')
    const page = await newPage()
    await page.goto(`http://127.0.0.1:${port}/#/cb/fleet?tab=fleet`)
    const row = page.locator('table.instances tbody tr')
    await page.locator('table.instances tbody tr td:nth-child(4)', { hasText: /^1$/ }).waitFor({ timeout: 15000 })
    assert.equal(await row.count(), 1)

    // A new draft, published from the console: the worker follows.
    assert.equal((await api('POST', '/api/v1/repo-files/fleet/main.js', script('v2'))).status, 201)
    await page.getByRole('button', { name: 'Publish' }).click()
    await page.getByText('Published /fleet version 2').waitFor()
    await waitFor('the worker on v2', async () => (await httpGet(`http://127.0.0.1:${wport}/`)) === 'v2')
    await page.locator('table.instances tbody tr td:nth-child(4)', { hasText: /^2$/ }).waitFor({ timeout: 20000 })
    assert.equal(await page.locator('[data-rollout]').count(), 0)

    // Its log, live: a request's line arrives.
    await row.locator('button', { hasText: 'pipy_log' }).click()
    await page.locator('pre.log').waitFor()
    await page.getByText('live').waitFor()
    await httpGet(`http://127.0.0.1:${wport}/log-me`)
    await waitFor('the log line', async () => (await page.locator('pre.log').textContent()).includes('served /log-me'), 20000)

    // Metrics: charts with samples once the repo has sampled the reports.
    await waitFor('a chart with data', async () =>
      (await page.locator('figure.chart polyline').evaluateAll(ls =>
        ls.some(l => (l.getAttribute('points') || '').split(' ').length > 1))), 30000)
    // A chart opens its series by label (the listening port's, here).
    await page.locator('figure.chart[data-metric="pipy_inbound_count"]').click()
    await page.locator('figure.detail[data-metric="pipy_inbound_count"] ul.legend li').first().waitFor({ timeout: 15000 })
    assert.match(await page.locator('figure.detail ul.legend').textContent(), new RegExp(String(wport)))
    await page.screenshot({ path: join(shots, '5-fleet.png') })

    // The custom histogram: bars for the requests' interval, opened from the
    // keyboard into its percentiles (every observation was 3: the ≤ 5 bucket).
    const histogram = page.locator('figure.chart.histogram[data-metric="served_ms"]')
    await waitFor('the histogram with observations', async () =>
      Number(await histogram.getAttribute('data-observations')) > 0, 30000)
    assert.ok(await histogram.locator('rect').count() >= 4)
    await histogram.focus()
    await page.keyboard.press('Enter')
    const legend = page.locator('figure.detail.histogram ul.legend').first()
    await legend.waitFor({ timeout: 15000 })
    assert.match(await legend.textContent(), /p50: ≤ 5.*p99: ≤ 5/s)
    await page.locator('figure.detail.histogram ul.buckets').scrollIntoViewIfNeeded()
    await page.screenshot({ path: join(shots, '5b-histogram.png') })
    await page.close()
  } finally {
    worker.kill()
  }
})

test('graph of the draft, and the repo program run, logged and stopped', async () => {
  const pport = await freePort()
  await publishScript('/prog', `pipy().listen(${pport}).demuxHTTP().to($=>$.replaceMessage(new Message('prog')))`)
  const page = await newPage()
  await page.goto(`http://127.0.0.1:${port}/#/cb/prog?tab=graph`)
  await page.locator('.graph .node.root').waitFor()
  const labels = await page.locator('.graph .label').allTextContents()
  assert.ok(labels.some(l => l.includes('demuxHTTP')) && labels.some(l => l.includes('replaceMessage')), labels.join('|'))

  // A draft in modules: each module's graph, the imported one's too.
  const gport = await freePort()
  await publishScript('/graphs', `pipy().listen(${gport}).demuxHTTP().to($=>$.use('lib.js', 'answer'))\n`)
  assert.equal((await api('POST', '/api/v1/repo-files/graphs/lib.js',
    `pipy().pipeline('answer').handleMessageStart(() => {}).replaceMessage(new Message('lib'))\n`)).status, 201)
  await page.goto(`http://127.0.0.1:${port}/#/cb/graphs?tab=graph`)
  await page.locator('section.module[data-module="/lib.js"] .graph .node').first().waitFor()
  assert.deepEqual(await page.locator('section.module').evaluateAll(ss => ss.map(s => s.dataset.module)), ['/main.js', '/lib.js'])
  assert.match(await page.locator('section.module[data-module="/main.js"]').textContent(), /demuxHTTP.*use/s)
  assert.match(await page.locator('section.module[data-module="/lib.js"]').textContent(), /answer.*handleMessageStart.*replaceMessage/s)
  await page.screenshot({ path: join(shots, '6-graph.png'), fullPage: true })

  await page.getByRole('link', { name: 'Program' }).click()
  await page.getByRole('combobox').selectOption('/prog')
  await page.getByRole('button', { name: 'Run' }).click()
  await page.getByText('running /prog').waitFor()
  await waitFor('the program', async () => (await httpGet(`http://127.0.0.1:${pport}/`)) === 'prog')
  await waitFor('its log', async () => /Listening on TCP port/.test(await page.locator('pre.log').textContent()))
  await page.screenshot({ path: join(shots, '7-program.png') })
  await page.getByRole('button', { name: 'Stop' }).click()
  await page.getByText('not running').waitFor()
  await page.close()
})

test('the editor completes filters and members and explains names on hover', async () => {
  await publishScript('/help', 'pipy()\n.listen(8080)\n.serveHTTP(new Message("hi"))\n')
  const page = await newPage()
  await page.goto(`http://127.0.0.1:${port}/#/cb/help?file=%2Fmain.js`)
  const editor = page.locator('.cm-content')
  await editor.waitFor()
  await editor.click()
  await page.keyboard.press('Control+End')
  await page.keyboard.insertText('.handleMessa')
  await page.keyboard.press('Control+Space')
  const options = page.locator('.cm-tooltip-autocomplete li')
  await options.first().waitFor()
  assert.ok((await options.allTextContents()).some(t => t.startsWith('handleMessage')))
  await page.keyboard.press('Escape')
  await page.keyboard.insertText('\nData.fr')
  await page.keyboard.press('Control+Space')
  await page.locator('.cm-tooltip-autocomplete li', { hasText: 'from' }).waitFor()
  await page.keyboard.press('Escape')
  // Hover over serveHTTP on line 3.
  const at = await page.evaluate(() => {
    const line = [...document.querySelectorAll('.cm-line')].find(l => l.textContent.includes('serveHTTP'))
    const walk = document.createTreeWalker(line, NodeFilter.SHOW_TEXT)
    for (let n = walk.nextNode(); n; n = walk.nextNode()) {
      const i = n.data.indexOf('serveHTTP')
      if (i < 0) continue
      const r = document.createRange()
      r.setStart(n, i + 3)
      r.setEnd(n, i + 4)
      const b = r.getBoundingClientRect()
      return { x: b.x + b.width / 2, y: b.y + b.height / 2 }
    }
  })
  await page.mouse.move(at.x - 20, at.y)
  await page.mouse.move(at.x, at.y)
  await page.locator('.hover-help', { hasText: 'serveHTTP' }).waitFor()
  await page.screenshot({ path: join(shots, '8-completion-and-hover.png') })
  await page.close()
})

test('keyboard: arrows walk the tree; upstream-style /repo/<codebase> pages open it', async () => {
  const page = await newPage()
  await page.goto(`http://127.0.0.1:${port}/`)
  const links = page.locator('nav a')
  await links.first().waitFor()
  await links.first().focus()
  await page.keyboard.press('ArrowDown')
  const second = await links.nth(1).textContent()
  assert.equal(await page.evaluate(() => document.activeElement.textContent), second)
  await page.keyboard.press('Enter')
  await page.locator('h2', { hasText: second }).waitFor()
  await page.goto(`http://127.0.0.1:${port}/repo/hello/`)
  await page.locator('h2', { hasText: '/hello' }).waitFor()
  await page.close()
})

test('names with ?, %, + and spaces open the right codebase and file', async () => {
  const cb = '/50% off?yes'
  const file = '/a+b %20c?.js'
  assert.equal((await api('POST', `/api/v1/repo${cb.split('/').map(encodeURIComponent).join('/')}`, '')).status, 201)
  const url = `/api/v1/repo-files${cb.split('/').map(encodeURIComponent).join('/')}${file.split('/').map(encodeURIComponent).join('/')}`
  assert.equal((await api('POST', url, 'the right file')).status, 201)
  const page = await newPage()
  await page.goto(`http://127.0.0.1:${port}/`)
  await page.locator('nav a', { hasText: cb }).click()
  await page.locator('h2', { hasText: cb }).waitFor()
  await page.locator('ul.files a', { hasText: file }).click()
  await page.locator('.cm-content', { hasText: 'the right file' }).waitFor()
  // Creating a codebase inside another's path is refused, as upstream's console does.
  page.once('dialog', d => d.accept('/fleet/inner'))
  await page.getByRole('button', { name: 'New', exact: true }).click()
  await page.getByText('/fleet/inner would nest with /fleet').waitFor()
  await page.close()
})
