/* table.c - see table.h. */
#include "table.h"

#include <stdlib.h>

static size_t tb_slot(const tb_table *t, uintptr_t key) {
    /* Fibonacci hashing spreads pointer keys (aligned) and V8 identity hashes. */
    uint64_t h = (uint64_t)key * UINT64_C(0x9E3779B97F4A7C15);
    return (size_t)(h >> 32) & (t->nbuckets - 1);
}

static int tb_grow(tb_table *t) {
    size_t n = t->nbuckets ? t->nbuckets * 2 : 64;
    tb_entry **buckets = calloc(n, sizeof *buckets);
    if (!buckets) return -1;
    tb_table bigger = {buckets, n, t->count};
    for (size_t i = 0; i < t->nbuckets; i++) {
        tb_entry *e = t->buckets[i];
        while (e) {
            tb_entry *next = e->next;
            size_t s = tb_slot(&bigger, e->key);
            e->next = buckets[s];
            buckets[s] = e;
            e = next;
        }
    }
    free(t->buckets);
    *t = bigger;
    return 0;
}

int tb_insert(tb_table *t, uintptr_t key, void *value) {
    if (t->count >= t->nbuckets && tb_grow(t) < 0) return -1;
    tb_entry *e = malloc(sizeof *e);
    if (!e) return -1;
    size_t s = tb_slot(t, key);
    e->key = key;
    e->value = value;
    e->next = t->buckets[s];
    t->buckets[s] = e;
    t->count++;
    return 0;
}

int tb_remove(tb_table *t, uintptr_t key, void *value) {
    if (!t->nbuckets) return 0;
    for (tb_entry **p = &t->buckets[tb_slot(t, key)]; *p; p = &(*p)->next) {
        if ((*p)->key == key && (*p)->value == value) {
            tb_entry *e = *p;
            *p = e->next;
            free(e);
            t->count--;
            return 1;
        }
    }
    return 0;
}

tb_entry *tb_first(const tb_table *t, uintptr_t key) {
    if (!t->nbuckets) return NULL;
    tb_entry *e = t->buckets[tb_slot(t, key)];
    while (e && e->key != key) e = e->next;
    return e;
}

tb_entry *tb_next(const tb_entry *e) {
    uintptr_t key = e->key;
    for (e = e->next; e && e->key != key; e = e->next) {}
    return (tb_entry *)e;
}

void tb_free(tb_table *t) {
    for (size_t i = 0; i < t->nbuckets; i++) {
        tb_entry *e = t->buckets[i];
        while (e) {
            tb_entry *next = e->next;
            free(e);
            e = next;
        }
    }
    free(t->buckets);
    t->buckets = NULL;
    t->nbuckets = t->count = 0;
}
