/** Entry point: TensorBoard's plugin page imports this module and calls render(). */

import uplotCss from "uplot/dist/uPlot.min.css";
import { App } from "./app";
import { h } from "./dom";
import { Host } from "./host";
import css from "./style.css";

export async function render(): Promise<void> {
  document.head.append(h("style", {}, uplotCss), h("style", {}, css));
  const root = h("div", { class: "aelog" });
  document.body.append(root);
  await new App(root, new Host()).start();
}
