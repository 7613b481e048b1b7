// Which screen is shown. Top-level views are remembered in the UI preferences.
import { savePref } from "../ipc/prefs";

export type View =
  | { name: "fleet" }
  | { name: "instance"; instance: string }
  | { name: "check"; instance?: string; run?: boolean }
  | { name: "deploy"; instance: string }
  | { name: "fleet-deploy" }
  | { name: "rotation" }
  | { name: "rotate"; instance: string }
  | { name: "instance-form"; instance?: string }
  | { name: "add-key"; instance?: string }
  | { name: "keys" }
  | { name: "audit"; subject?: string }
  | { name: "settings" }
  | { name: "onboard" }
  | { name: "costs" }
  | { name: "team" };

export const TOP_LEVEL = ["fleet", "keys", "rotation", "audit", "settings", "costs", "team"] as const;

export const nav = $state<{ view: View }>({ view: { name: "fleet" } });

export function go(view: View): void {
  nav.view = view;
  if ((TOP_LEVEL as readonly string[]).includes(view.name)) void savePref("lastView", view.name);
  queueMicrotask(() => document.getElementById("main")?.focus({ preventScroll: true }));
}
