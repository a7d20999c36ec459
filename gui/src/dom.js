// Small DOM helpers. Text always goes in as text (textContent), never as
// markup: codebase names, file names and log lines cannot inject anything.

/** `h('button.primary', {onclick}, 'Save')`: an element with props and children. */
export function h(spec, props, ...children) {
  // Props may be left out: a first argument that is content is a child.
  if (props instanceof Node || typeof props !== 'object' || Array.isArray(props) || props === null) {
    children.unshift(props)
    props = {}
  }
  const [tag, ...classes] = spec.split('.')
  const el = document.createElement(tag || 'div')
  if (classes.length) el.className = classes.join(' ')
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v)
    else if (k === 'dataset') Object.assign(el.dataset, v)
    else if (k in el && typeof v !== 'string') el[k] = v
    else el.setAttribute(k, v === true ? '' : String(v))
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue
    el.append(c instanceof Node ? c : document.createTextNode(String(c)))
  }
  return el
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren()
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue
    el.append(c instanceof Node ? c : document.createTextNode(String(c)))
  }
}
