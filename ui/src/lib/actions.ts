// Svelte actions that set styles through the CSSOM (allowed by the CSP, unlike style
// attributes in markup).

/** Sets the element's height in pixels. */
export function heightPx(node: HTMLElement, px: number) {
  node.style.height = `${px}px`;
  return {
    update(next: number) {
      node.style.height = `${next}px`;
    },
  };
}

/** Sets the element's width in pixels. */
export function widthPx(node: HTMLElement, px: number) {
  node.style.width = `${px}px`;
  return {
    update(next: number) {
      node.style.width = `${next}px`;
    },
  };
}

/** Sets the element's minimum width in pixels. */
export function minWidthPx(node: HTMLElement, px: number) {
  node.style.minWidth = `${px}px`;
  return {
    update(next: number) {
      node.style.minWidth = `${next}px`;
    },
  };
}
