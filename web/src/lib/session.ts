/**
 * The browser session (SPEC §8): the access token lives in memory only; the refresh
 * token is an HttpOnly cookie the gateway sets on `/v1/auth`, which script never sees.
 * A refresh is scheduled a minute before the access token expires, and a page load
 * starts with one, so a reload keeps the user signed in without storing any token.
 */

type Listener = (token: string | null) => void;

export interface TokenAnswer {
  access_token: string;
  expires_in: number;
}

/** Seconds before expiry when the silent refresh runs. */
export const REFRESH_MARGIN_SECONDS = 60;

export class Session {
  private token: string | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private inflight: Promise<string | null> | null = null;
  private booting: Promise<string | null> | null = null;
  private readonly listeners = new Set<Listener>();

  constructor(
    private readonly refreshCall: () => Promise<TokenAnswer | null>,
    // A wrapper: calling the global setTimeout as a method of this object is illegal.
    private readonly schedule: (fn: () => void, ms: number) => ReturnType<typeof setTimeout> = (fn, ms) => setTimeout(fn, ms),
  ) {}

  get accessToken(): string | null {
    return this.token;
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * The first refresh of the page (the cookie survives reloads, the token does not).
   * Requests wait for it, so a signed-in reload never asks anonymously first.
   */
  boot(): Promise<string | null> {
    this.booting ??= this.refresh();
    return this.booting;
  }

  /** Keep a new token (after login or refresh) and plan its silent refresh. */
  accept(answer: TokenAnswer): void {
    this.token = answer.access_token;
    if (this.timer) clearTimeout(this.timer);
    const delay = Math.max(5, answer.expires_in - REFRESH_MARGIN_SECONDS) * 1000;
    this.timer = this.schedule(() => void this.refresh(), delay);
    this.emit();
  }

  /** Forget the token (logout, or the refresh cookie was refused). */
  clear(): void {
    this.token = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.emit();
  }

  /** Trade the refresh cookie for a new access token; concurrent callers share one call. */
  refresh(): Promise<string | null> {
    this.inflight ??= this.refreshCall()
      .then((answer) => {
        if (answer) this.accept(answer);
        else this.clear();
        return this.token;
      })
      .catch(() => {
        this.clear();
        return null;
      })
      .finally(() => {
        this.inflight = null;
      });
    return this.inflight;
  }

  private emit(): void {
    for (const listener of this.listeners) listener(this.token);
  }
}
