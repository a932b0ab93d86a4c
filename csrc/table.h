/* table.h - a small chained hash table of (key, value) pairs, duplicates
 * allowed. Used for the identity maps (JS object -> JSObject, Python object ->
 * JS proxy). Not thread-safe: each table names the lock that protects it. */
#ifndef PYMPORT_TABLE_H
#define PYMPORT_TABLE_H

#include <stddef.h>
#include <stdint.h>

typedef struct tb_entry {
    uintptr_t key;
    void *value;
    struct tb_entry *next;
} tb_entry;

typedef struct {
    tb_entry **buckets;
    size_t nbuckets; /* a power of two, or 0 before the first insert */
    size_t count;
} tb_table;

/* Adds (key, value). Returns 0, or -1 when out of memory (nothing added). */
int tb_insert(tb_table *t, uintptr_t key, void *value);
/* Removes the pair (key, value) if present. Returns 1 if removed. */
int tb_remove(tb_table *t, uintptr_t key, void *value);
/* The first entry with this key, or NULL; continue with tb_next. */
tb_entry *tb_first(const tb_table *t, uintptr_t key);
tb_entry *tb_next(const tb_entry *e);
/* Frees the table's memory (not the values). */
void tb_free(tb_table *t);

#endif
