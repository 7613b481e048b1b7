// UI preferences (theme, last view, fleet columns) in tauri-plugin-store's prefs.json, shared
// with the Rust side, which keeps the window size there. Preferences only: never inventory,
// never a secret.
import { load, type Store } from "@tauri-apps/plugin-store";

export type Theme = "system" | "light" | "dark";
export interface Prefs {
  theme: Theme;
  lastView: string;
  fleetColumns: string[] | null;
}

const DEFAULTS: Prefs = { theme: "system", lastView: "fleet", fleetColumns: null };
let store: Store | null = null;
/** Why the store could not be used, if it could not (shown in Settings). */
export let lastError: string | null = null;

async function open(): Promise<Store | null> {
  if (store) return store;
  try {
    store = await load("prefs.json", { autoSave: 200, defaults: {} });
  } catch (e) {
    lastError = String(e);
    store = null; // preferences are a nicety: run with defaults
  }
  return store;
}

/** The saved preferences, or the defaults when the store cannot be read (never rejects). */
export async function loadPrefs(): Promise<Prefs> {
  const s = await open();
  if (!s) return { ...DEFAULTS };
  let theme: Theme | undefined, lastView: string | undefined, fleetColumns: string[] | undefined;
  try {
    [theme, lastView, fleetColumns] = await Promise.all([
      s.get<Theme>("theme"),
      s.get<string>("lastView"),
      s.get<string[]>("fleetColumns"),
    ]);
  } catch (e) {
    lastError = String(e);
    return { ...DEFAULTS };
  }
  return {
    theme: theme === "light" || theme === "dark" ? theme : "system",
    lastView: typeof lastView === "string" ? lastView : DEFAULTS.lastView,
    fleetColumns: Array.isArray(fleetColumns) ? fleetColumns.filter((c) => typeof c === "string") : null,
  };
}

export async function savePref<K extends keyof Prefs>(key: K, value: Prefs[K]): Promise<void> {
  const s = await open();
  if (!s) return;
  try {
    await s.set(key, value);
    await s.save();
  } catch {
    /* ignore: preferences only */
  }
}
