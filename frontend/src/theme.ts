/** Light or dark: follow TensorBoard's own toggle (same-origin parent), else the OS. */

export function isDark(): boolean {
  try {
    const body = window.parent?.document?.body;
    if (body && window.parent !== window) return body.classList.contains("dark-mode");
  } catch {
    // a cross-origin parent: fall through to the OS preference
  }
  return window.matchMedia?.("(prefers-color-scheme: dark)").matches ?? false;
}

export function applyTheme(root: HTMLElement): boolean {
  const dark = isDark();
  root.classList.toggle("theme-dark", dark);
  return dark;
}
