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
