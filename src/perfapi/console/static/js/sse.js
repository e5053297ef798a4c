// A Server-Sent Events parser for a stream read with fetch(). EventSource would do
// this itself, but it cannot send an Authorization header; fetch can.
// Follows the WHATWG "event stream interpretation": lines end in CRLF, LF or CR;
// `:` starts a comment; a blank line dispatches the event gathered so far.

export class SseParser {
  /** @param {(event: {type: string, data: string, id: string | null}) => void} onEvent */
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.pending = "";
    this.lastEventId = null;
    this.retry = null;
    this.resetEvent();
  }

  resetEvent() {
    this.type = "";
    this.data = [];
  }

  /** Feed decoded text, in chunks of any size: a line may span chunks. */
  push(chunk) {
    const text = this.pending + chunk;
    const breaks = /\r\n|\r|\n/g;
    let from = 0;
    let match;
    while ((match = breaks.exec(text)) !== null) {
      // A CR at the very end may be the first half of a CRLF split across chunks.
      if (match[0] === "\r" && breaks.lastIndex === text.length) break;
      this.line(text.slice(from, match.index));
      from = breaks.lastIndex;
    }
    this.pending = text.slice(from);
  }

  line(line) {
    if (line === "") {
      this.dispatch();
      return;
    }
    if (line.startsWith(":")) return; // a comment: the server's heartbeat
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.type = value;
    else if (field === "data") this.data.push(value);
    else if (field === "id" && !value.includes("\0")) this.lastEventId = value;
    else if (field === "retry" && /^\d+$/.test(value)) this.retry = Number(value);
  }

  dispatch() {
    if (this.data.length > 0) {
      this.onEvent({ type: this.type || "message", data: this.data.join("\n"), id: this.lastEventId });
    }
    this.resetEvent();
  }
}
