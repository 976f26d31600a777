/**
 * A least-recently-used map with a fixed capacity. A JS Map keeps insertion order, so re-inserting on
 * read moves an entry to the young end and the oldest entry is always the first key: O(1) both ways.
 */
export class Lru<K, V> {
  readonly capacity: number
  private readonly map = new Map<K, V>()

  constructor(capacity: number) {
    this.capacity = Math.max(1, Math.floor(capacity))
  }

  get size(): number {
    return this.map.size
  }

  /** The value, marked as most recently used. */
  get(key: K): V | undefined {
    const v = this.map.get(key)
    if (v === undefined) return undefined
    this.map.delete(key)
    this.map.set(key, v)
    return v
  }

  has(key: K): boolean {
    return this.map.has(key)
  }

  /** Inserts or replaces, evicting the least recently used entry when full. */
  set(key: K, value: V): void {
    if (this.map.has(key)) this.map.delete(key)
    else if (this.map.size >= this.capacity) {
      const oldest = this.map.keys().next()
      if (oldest.done !== true) this.map.delete(oldest.value)
    }
    this.map.set(key, value)
  }

  delete(key: K): boolean {
    return this.map.delete(key)
  }

  clear(): void {
    this.map.clear()
  }
}
