// UI preferences (theme, last view, fleet columns) in the app's prefs.json, shared with the Rust
// side, which keeps the window size there. The file is fixed by the app: the UI reads and
// writes its known keys through prefs_load/prefs_save and never names a store file (the store
// plugin's own commands are not granted to the webview). Preferences only: never inventory,
// never a secret.
import { prefsLoad, prefsSave } from "./index";

export type Theme = "system" | "light" | "dark";
export interface Prefs {
  theme: Theme;
  lastView: string;
  fleetColumns: string[] | null;
}

const DEFAULTS: Prefs = { theme: "system", lastView: "fleet", fleetColumns: null };
/** Why the store could not be used, if it could not (shown in Settings). */
export let lastError: string | null = null;

/** The saved preferences, or the defaults when the store cannot be read (never rejects). */
export async function loadPrefs(): Promise<Prefs> {
  let saved: Record<string, unknown>;
  try {
    saved = await prefsLoad();
  } catch (e) {
    lastError = String(e); // preferences are a nicety: run with defaults
    return { ...DEFAULTS };
  }
  const { theme, lastView, fleetColumns } = saved;
  return {
    theme: theme === "light" || theme === "dark" ? theme : "system",
    lastView: typeof lastView === "string" ? lastView : DEFAULTS.lastView,
    fleetColumns: Array.isArray(fleetColumns) ? fleetColumns.filter((c): c is string => typeof c === "string") : null,
  };
}

export async function savePref<K extends keyof Prefs>(key: K, value: Prefs[K]): Promise<void> {
  try {
    await prefsSave(key, value);
  } catch {
    /* ignore: preferences only */
  }
}
