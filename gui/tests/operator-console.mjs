// The console as pipy-operator's repo serves it: guarded by ServiceAccount
// tokens and read-only (Codebase resources are the source of truth). Run by
// the kube end-to-end test (e2e/tests/e2e/kube.rs) against a real operator
// and kube-apiserver, with:
//
//   PIPY_CONSOLE_URL       the operator's repo, http://127.0.0.1:PORT
//   PIPY_CONSOLE_TOKEN     a token the repo takes
//   PIPY_CONSOLE_CODEBASE  a codebase there, /namespace/name
//
// Not picked up by `node --test tests/` (its name does not end in .test.mjs).

import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { join, resolve, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const shots = join(root, 'target/console-screenshots')
mkdirSync(shots, { recursive: true })
const { PIPY_CONSOLE_URL: url, PIPY_CONSOLE_TOKEN: token, PIPY_CONSOLE_CODEBASE: cb } = process.env

let browser
after(async () => { await browser?.close() })

test('the operator console asks for a token, then shows codebases, graphs and fleet, and changes nothing', async () => {
  assert.ok(url && token && cb, 'PIPY_CONSOLE_URL, PIPY_CONSOLE_TOKEN and PIPY_CONSOLE_CODEBASE are needed')
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] })
  const page = await browser.newPage({ viewport: { width: 1366, height: 800 } })
  page.setDefaultTimeout(15000)
  await page.goto(`${url}/`)

  // No token yet: the repo refuses the list, and the console asks for one.
  const input = page.getByLabel('Token')
  await input.waitFor()
  await input.fill(token)
  await page.getByRole('button', { name: 'Use it' }).click()

  await page.locator('#top .tag', { hasText: 'read-only' }).waitFor()
  await page.locator('nav a', { hasText: cb }).click()
  await page.locator('h2', { hasText: cb }).waitFor()
  await page.locator('ul.files a', { hasText: '/main.js' }).click()
  const editor = page.locator('.cm-content')
  await editor.waitFor()
  assert.match(await editor.textContent(), /\.listen\(\d+\)/)

  // Nothing that writes is offered, and the editor takes no typing.
  assert.equal(await page.locator('button.writes:visible').count(), 0)
  assert.equal(await editor.getAttribute('contenteditable'), 'false')
  const before = await editor.textContent()
  await editor.click()
  await page.keyboard.insertText('typed')
  assert.equal(await editor.textContent(), before)
  // Its graph, from the operator's dry run (the webhook's).
  await page.getByRole('tab', { name: 'Graph' }).click()
  await page.locator('section.module[data-module="/main.js"] .graph .node.root').waitFor()
  assert.match(await page.locator('section.module[data-module="/main.js"]').textContent(), /Listen 0\.0\.0\.0:8000.*demuxHTTP/s)
  // Its fleet view is there to read.
  await page.getByRole('tab', { name: 'Fleet' }).click()
  await page.locator('table.instances').waitFor()
  await page.screenshot({ path: join(shots, '9-operator-read-only.png'), fullPage: true })
})
