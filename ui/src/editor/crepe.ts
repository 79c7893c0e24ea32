// The intro editor: Milkdown Crepe through the lean CrepeBuilder (no CodeMirror,
// KaTeX, tables or image blocks), with the fixes of FRONTEND.md §4.3 (1, 2, 3, 5)
// and a "Delete" menu on the drag handle (§5). Loaded lazily by the profile page.
import { CrepeBuilder } from '@milkdown/crepe/builder'
import { blockEdit } from '@milkdown/crepe/feature/block-edit'
import { cursor } from '@milkdown/crepe/feature/cursor'
import { linkTooltip } from '@milkdown/crepe/feature/link-tooltip'
import { listItem } from '@milkdown/crepe/feature/list-item'
import { placeholder } from '@milkdown/crepe/feature/placeholder'
import { toolbar } from '@milkdown/crepe/feature/toolbar'
import { editorViewCtx, editorViewOptionsCtx, remarkStringifyOptionsCtx } from '@milkdown/kit/core'
import { htmlSchema } from '@milkdown/kit/preset/commonmark'
import { InputRule } from '@milkdown/kit/prose/inputrules'
import { NodeSelection } from '@milkdown/kit/prose/state'
import { $inputRule, $remark, $view } from '@milkdown/kit/utils'

import '@milkdown/crepe/theme/common/prosemirror.css'
import '@milkdown/crepe/theme/common/reset.css'
import '@milkdown/crepe/theme/common/block-edit.css'
import '@milkdown/crepe/theme/common/cursor.css'
import '@milkdown/crepe/theme/common/link-tooltip.css'
import '@milkdown/crepe/theme/common/list-item.css'
import '@milkdown/crepe/theme/common/placeholder.css'
import '@milkdown/crepe/theme/common/toolbar.css'
import '@milkdown/crepe/theme/classic.css'
import './editor.css'

export interface EditorLabels {
  placeholder: string
  /** The accessible name of the editable area. */
  editorLabel: string
  textGroup: string
  text: string
  h1: string
  h2: string
  h3: string
  h4: string
  h5: string
  h6: string
  quote: string
  divider: string
  listGroup: string
  bulletList: string
  orderedList: string
  taskList: string
  advancedGroup: string
  codeBlock: string
  bold: string
  italic: string
  strikethrough: string
  code: string
  link: string
  deleteBlock: string
  blockMenu: string
}

export interface IntroEditorHandle {
  getMarkdown(): string
  destroy(): Promise<void>
}

// §4.3 (1): mdast sets `title: null` on images without a title; Milkdown wants a string.
const imageTitleFix = $remark('imageTitleFix', () => () => (tree: any) => {
  const walk = (n: any) => {
    if ((n.type === 'image' || n.type === 'image-block') && n.title == null) n.title = ''
    n.children?.forEach(walk)
  }
  walk(tree)
})

// §4.3 (5): show a raw `<img …>` html node as an image. Only src/alt/width/height/title
// are copied, and only http(s) or same-origin sources; the stored value stays the raw HTML.
const SAFE_SRC = /^(https?:\/\/|\/(?!\/))/i
const IMG_TAG = /^<img((?:\s+[a-zA-Z_:][-a-zA-Z0-9_:.]*(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+))?)*)\s*\/?>$/i
const ATTR = /([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g
const KEEP = new Set(['src', 'alt', 'width', 'height', 'title'])

function decodeEntities(v: string): string {
  return v.replace(/&(#x[0-9a-f]+|#\d+|amp|quot|apos|lt|gt);/gi, (m, e: string) => {
    const named: Record<string, string> = { amp: '&', quot: '"', apos: "'", lt: '<', gt: '>' }
    if (e[0] !== '#') return named[e.toLowerCase()] ?? m
    const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10)
    return Number.isFinite(code) && code > 0 && code < 0x110000 ? String.fromCodePoint(code) : m
  })
}

/** Parse a lone `<img …>` tag by hand: the browser's HTML parser is never involved, so no
 *  attribute of it (such as an event handler) is ever compiled, even in an inert document. */
function parseImg(value: string): Record<string, string> | null {
  const m = IMG_TAG.exec(value.trim())
  if (!m) return null
  const attrs: Record<string, string> = {}
  for (const a of m[1].matchAll(ATTR)) {
    const name = a[1].toLowerCase()
    if (KEEP.has(name) && !(name in attrs)) attrs[name] = decodeEntities(a[2] ?? a[3] ?? a[4] ?? '')
  }
  return attrs
}

function renderHtmlValue(value: string): HTMLElement {
  const attrs = parseImg(value)
  if (attrs && SAFE_SRC.test(attrs.src ?? '')) {
    const wrap = document.createElement('span')
    wrap.className = 'intro-html-img'
    wrap.dataset.type = 'html'
    const img = document.createElement('img')
    for (const [k, v] of Object.entries(attrs)) {
      if ((k === 'width' || k === 'height') && !/^\d{1,5}%?$/.test(v)) continue
      img.setAttribute(k, v)
    }
    wrap.appendChild(img)
    return wrap
  }
  const span = document.createElement('span')
  span.dataset.type = 'html'
  span.className = 'intro-html-source'
  span.textContent = value
  return span
}

// A badge typed as Markdown, `[![alt](image)](link)`, becomes a linked image when its last
// `)` is typed, as pasting it does (stock Crepe leaves the typed text as it is).
const SAFE_HREF = /^(https?:\/\/|mailto:|\/(?!\/))/i
const TYPED_BADGE = /\[!\[([^\]]*)\]\(([^()\s]+)\)\s?\]\(([^()\s]+)\)$/
const badgeInputRule = $inputRule(
  () =>
    new InputRule(TYPED_BADGE, (state, match, start, end) => {
      const image = state.schema.nodes.image
      const link = state.schema.marks.link
      const [, alt, src, href] = match
      if (!image || !link || !SAFE_SRC.test(src) || !SAFE_HREF.test(href)) return null
      const badge = image.create({ src, alt, title: '' }, null, [link.create({ href, title: null })])
      return state.tr.replaceWith(start, end, badge)
    }),
)

const htmlImageView = $view(htmlSchema.node, () => (node) => {
  const dom = renderHtmlValue(String(node.attrs.value ?? ''))
  return {
    dom,
    ignoreMutation: () => true,
    stopEvent: () => false,
  }
})

export async function createIntroEditor(
  root: HTMLElement,
  markdown: string,
  labels: EditorLabels,
): Promise<IntroEditorHandle> {
  const builder = new CrepeBuilder({ root, defaultValue: markdown })
  builder
    .addFeature(cursor)
    .addFeature(listItem)
    .addFeature(linkTooltip)
    .addFeature(placeholder, { text: labels.placeholder, mode: 'block' })
    .addFeature(toolbar, {
      boldLabel: labels.bold,
      italicLabel: labels.italic,
      strikethroughLabel: labels.strikethrough,
      codeLabel: labels.code,
      linkLabel: labels.link,
    })
    .addFeature(blockEdit, {
      textGroup: {
        label: labels.textGroup,
        text: { label: labels.text },
        h1: { label: labels.h1 },
        h2: { label: labels.h2 },
        h3: { label: labels.h3 },
        h4: { label: labels.h4 },
        h5: { label: labels.h5 },
        h6: { label: labels.h6 },
        quote: { label: labels.quote },
        divider: { label: labels.divider },
      },
      listGroup: {
        label: labels.listGroup,
        bulletList: { label: labels.bulletList },
        orderedList: { label: labels.orderedList },
        taskList: { label: labels.taskList },
      },
      advancedGroup: {
        label: labels.advancedGroup,
        codeBlock: { label: labels.codeBlock },
      },
    } as any)
  // §4.3 (3): the image-block feature is simply not added, so images stay inline.
  // §4.3 (2): Markdown style of the serializer.
  builder.editor
    .config((ctx) => {
      ctx.update(remarkStringifyOptionsCtx, (o) => ({ ...o, bullet: '-' as const, rule: '-' as const }))
      ctx.update(editorViewOptionsCtx, (o) => ({
        ...o,
        attributes: { ...(o.attributes as Record<string, string>), 'aria-label': labels.editorLabel, 'aria-multiline': 'true' },
      }))
    })
    .use(imageTitleFix)
    .use(htmlImageView)
    .use(badgeInputRule)

  await builder.create()
  const removeMenu = installDeleteMenu(root, builder, labels)
  const stopListFix = keepListSemantics(root)

  return {
    getMarkdown: () => withoutEmptyParagraphs(builder.getMarkdown()),
    destroy: async () => {
      removeMenu()
      stopListFix()
      await builder.destroy()
    },
  }
}

// Milkdown writes an empty paragraph (Enter pressed twice) as a lone `<br />` line, which
// would be stored and shown as a line break; an empty paragraph means nothing in Markdown.
export function withoutEmptyParagraphs(markdown: string): string {
  return markdown
    .replace(/^[ \t]*<br\s*\/?>[ \t]*$/gim, '')
    .replace(/\n{3,}/g, '\n\n')
    .trim()
    .concat('\n')
}

// Crepe's list-item view puts a <div> between <ul>/<ol> and <li>, which screen readers
// (and axe's list and listitem rules) read as no list at all. The wrapper takes the
// listitem role and the inner <li> becomes presentational, kept so as views re-render.
function keepListSemantics(root: HTMLElement): () => void {
  const fix = () => {
    for (const block of root.querySelectorAll<HTMLElement>('.milkdown-list-item-block:not([role])')) {
      block.setAttribute('role', 'listitem')
      block.querySelector(':scope > li')?.setAttribute('role', 'none')
    }
  }
  fix()
  const observer = new MutationObserver(fix)
  observer.observe(root, { childList: true, subtree: true })
  return () => observer.disconnect()
}

// §5: stock Crepe only selects the block (NodeSelection) on mousedown of the drag handle.
// A click on it opens this small menu; Delete removes the selected block.
function installDeleteMenu(root: HTMLElement, builder: CrepeBuilder, labels: EditorLabels): () => void {
  const menu = document.createElement('div')
  menu.className = 'intro-block-menu'
  menu.setAttribute('role', 'menu')
  menu.setAttribute('aria-label', labels.blockMenu)
  menu.hidden = true
  const del = document.createElement('button')
  del.type = 'button'
  del.id = 'block-delete'
  del.setAttribute('role', 'menuitem')
  del.textContent = labels.deleteBlock
  menu.appendChild(del)
  root.appendChild(menu)

  let target: number | null = null
  const hide = () => {
    menu.hidden = true
    target = null
  }

  const onClick = (e: MouseEvent) => {
    const item = (e.target as Element).closest('.milkdown-block-handle .operation-item')
    if (!item || item !== item.parentElement?.lastElementChild) return
    const view = builder.editor.ctx.get(editorViewCtx)
    const sel = view.state.selection
    if (!(sel instanceof NodeSelection)) return
    target = sel.from
    const r = item.getBoundingClientRect()
    const base = root.getBoundingClientRect()
    menu.style.left = `${r.left - base.left}px`
    menu.style.top = `${r.bottom - base.top + 4}px`
    menu.hidden = false
    del.focus({ preventScroll: true })
  }

  const onDelete = () => {
    const view = builder.editor.ctx.get(editorViewCtx)
    if (target == null) return hide()
    const node = view.state.doc.nodeAt(target)
    if (node) view.dispatch(view.state.tr.delete(target, target + node.nodeSize).scrollIntoView())
    hide()
    view.focus()
  }

  const onDocDown = (e: Event) => {
    if (menu.hidden) return
    const t = e.target as Element
    if (menu.contains(t) || t.closest?.('.milkdown-block-handle')) return
    hide()
  }
  const onKey = (e: KeyboardEvent) => {
    if (!menu.hidden && e.key === 'Escape') hide()
  }

  menu.addEventListener('mousedown', (e) => e.preventDefault())
  del.addEventListener('click', onDelete)
  root.addEventListener('click', onClick)
  document.addEventListener('mousedown', onDocDown, true)
  document.addEventListener('keydown', onKey)
  return () => {
    root.removeEventListener('click', onClick)
    document.removeEventListener('mousedown', onDocDown, true)
    document.removeEventListener('keydown', onKey)
    menu.remove()
  }
}
