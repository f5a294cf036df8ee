import { useState } from "preact/hooks";

export interface PageOf<T> {
  items: T[];
  next: string | null;
}

/**
 * The pages after a polled first page, read on "more" with the cursor the last one ended at.
 * Read once each and kept below the first (the poll keeps the newest rows live; older ones
 * change seldom, and `replace` puts in a row the page itself changed); `reset` drops them when
 * the filters change, since a cursor belongs to the query that gave it.
 */
export function useOlderPages<T>(firstNext: string | null, read: (cursor: string) => Promise<PageOf<T>>) {
  const [older, setOlder] = useState<PageOf<T> | null>(null);
  const [error, setError] = useState<unknown>(null);
  const next = older ? older.next : firstNext;
  const loadMore = async () => {
    if (!next) return;
    try {
      const more = await read(next);
      setOlder({ items: [...(older?.items ?? []), ...more.items], next: more.next });
      setError(null);
    } catch (err) {
      setError(err);
    }
  };
  return {
    items: older?.items ?? [],
    next,
    error,
    loadMore,
    reset: () => setOlder(null),
    replace: (update: (item: T) => T) => setOlder((o) => o && { ...o, items: o.items.map(update) }),
  };
}
