// A tiny element builder. Text always goes in as text, never as HTML, so a
// name like `<img src=x onerror=alert(1)>` is shown, not run.

type Child = Node | string | null | undefined | false;

export interface Props {
  class?: string;
  title?: string;
  type?: string;
  role?: string;
  hidden?: boolean;
  disabled?: boolean;
  dataset?: Record<string, string>;
  attrs?: Record<string, string>;
  onclick?: (event: Event) => void;
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props.class) el.className = props.class;
  if (props.title !== undefined) el.title = props.title;
  if (props.type !== undefined) el.setAttribute("type", props.type);
  if (props.role !== undefined) el.setAttribute("role", props.role);
  if (props.hidden) el.hidden = true;
  if (props.disabled !== undefined && "disabled" in el) (el as HTMLButtonElement).disabled = props.disabled;
  for (const [k, v] of Object.entries(props.dataset ?? {})) el.dataset[k] = v;
  for (const [k, v] of Object.entries(props.attrs ?? {})) el.setAttribute(k, v);
  if (props.onclick) el.addEventListener("click", props.onclick);
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return el;
}

/** Sets text only when it changed: cheap no-op updates keep 1,000 rows smooth. */
export function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

/** Sets an attribute only when it changes: an unchanged write still costs the
 * browser a style check, 4 times a second for every counting row. */
export function setAttr(el: Element, name: string, value: string | null): void {
  if (value === null) {
    if (el.hasAttribute(name)) el.removeAttribute(name);
  } else if (el.getAttribute(name) !== value) {
    el.setAttribute(name, value);
  }
}

/** Shows or hides an element, writing only on a change (like setText and setAttr). */
export function setHidden(el: HTMLElement, hidden: boolean): void {
  if (el.hidden !== hidden) el.hidden = hidden;
}
