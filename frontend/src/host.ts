/**
 * Guest side of TensorBoard's experimental plugin_lib protocol (not published on npm):
 * a MessagePort handed to the host with "experimental.bootstrap", then JSON messages
 * {type, id, payload, error, isReply}. We use the run list (RunsChanged), the reload
 * signal (DataReloaded) and the tab's URL data (GetURLPluginData, keys "p.aelog.*").
 * Outside TensorBoard (no parent frame) every call resolves to null and nothing fires.
 */

interface Message {
  type: string;
  id: number;
  payload: unknown;
  error: string | null;
  isReply: boolean;
}

export class Host {
  private port: MessagePort | null = null;
  private nextId = 0;
  private waiting = new Map<number, (payload: unknown) => void>();
  private listeners = new Map<string, (payload: unknown) => void>();

  constructor() {
    if (window.parent === window) return;
    const channel = new MessageChannel();
    this.port = channel.port1;
    this.port.onmessage = (event) => this.receive(event.data);
    window.parent.postMessage("experimental.bootstrap", "*", [channel.port2]);
  }

  on(type: string, listener: (payload: unknown) => void): void {
    this.listeners.set(type, listener);
  }

  /** Ask the host; null when there is no host or it does not answer within 2 s. */
  request(type: string, payload: unknown = null): Promise<unknown> {
    const port = this.port;
    if (!port) return Promise.resolve(null);
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        resolve(null);
      }, 2000);
      this.waiting.set(id, (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      this.send({ type, id, payload, error: null, isReply: false });
    });
  }

  private send(message: Message): void {
    this.port?.postMessage(JSON.stringify(message));
  }

  private receive(data: unknown): void {
    let message: Message;
    try {
      message = JSON.parse(String(data)) as Message;
    } catch {
      return;
    }
    if (message.isReply) {
      const resolve = this.waiting.get(message.id);
      this.waiting.delete(message.id);
      resolve?.(message.error ? null : message.payload);
      return;
    }
    this.listeners.get(message.type)?.(message.payload);
    this.send({ type: message.type, id: message.id, payload: null, error: null, isReply: true });
  }
}

export const RUNS_CHANGED = "experimental.RunsChanged";
export const DATA_RELOADED = "experimental.DataReloaded";
export const GET_URL_DATA = "experimental.GetURLPluginData";

/**
 * Keep a piece of the tab's state in TensorBoard's URL (``#aelog&p.aelog.filter=...``), so a
 * link can be shared; read back at start through GET_URL_DATA. TensorBoard's own storage
 * writes the hash; a parent we cannot reach (cross-origin, no TensorBoard) is left alone.
 */
export function setUrlData(key: string, value: string): void {
  try {
    if (window.parent === window) return;
    const parent = window.parent as unknown as {
      tensorboard?: { tf_storage?: { setString?: (key: string, value: string) => void } };
    };
    parent.tensorboard?.tf_storage?.setString?.(`p.aelog.${key}`, value);
  } catch {
    // a cross-origin parent: the state is not shared through the URL
  }
}

/**
 * The tab's keys in TensorBoard's URL (``p.aelog.*``), read from the parent's hash. The
 * host's own answer to GET_URL_DATA comes from a copy of the hash that TensorBoard 2.21
 * only refreshes on a hash change, so a shared link opened anew reads as empty there.
 */
export function readUrlData(): Record<string, string> {
  const data: Record<string, string> = {};
  try {
    if (window.parent === window) return data;
    for (const part of window.parent.location.hash.replace(/^#/, "").split("&")) {
      const [key, value, ...rest] = part.split("=");
      if (value === undefined || rest.length || !key.startsWith("p.aelog.")) continue;
      data[decodeURIComponent(key).slice("p.aelog.".length)] = decodeURIComponent(value);
    }
  } catch {
    // a cross-origin parent or a malformed escape: no URL state
  }
  return data;
}
