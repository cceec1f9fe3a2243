/* A qemu TCG plugin that counts the guest instructions a program executes, for
 * bench/arm-count.sh. Build for the host: gcc -O2 -shared -fPIC -o libarmcount.so
 * arm_count_plugin.c. Load: qemu-aarch64 -plugin ./libarmcount.so,out=FILE PROGRAM ...
 * At exit it writes the total to FILE (one decimal number). With symbols=on it adds, below the
 * total, the count of every function (the symbol of each block's first instruction; needs a
 * program with its symbol table), largest first: where the instructions go.
 *
 * Debian 12's qemu-user (7.2) exports plugin API version 1 but ships no header, so the few
 * declarations used are written here from that API (include/qemu/qemu-plugin.h of qemu 7.2):
 * at each translation of a block, add an inline "counter += the block's instruction count" to
 * it. The inline add is not atomic, so count single-threaded programs (ember -t 1). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QEMU_PLUGIN_EXPORT __attribute__((visibility("default")))

typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t; /* only passed by pointer */
struct qemu_plugin_tb;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb* tb);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void* userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb* tb);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb* tb, enum qemu_plugin_op op,
                                              void* ptr, uint64_t imm);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb,
                                    void* userdata);
struct qemu_plugin_insn* qemu_plugin_tb_get_insn(const struct qemu_plugin_tb* tb, size_t idx);
const char* qemu_plugin_insn_symbol(const struct qemu_plugin_insn* insn);

QEMU_PLUGIN_EXPORT int qemu_plugin_version = 1;

static uint64_t executed;
static char out_path[4096];
static bool by_symbol;

/* symbols=on: one counter per translated block, named by its function. */
struct block_count {
    const char* symbol;
    uint64_t executed;
    struct block_count* next;
};
static struct block_count* blocks;

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb* tb) {
    (void)id;
    const size_t n = qemu_plugin_tb_n_insns(tb);
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &executed, n);
    if (by_symbol && n > 0) {
        struct block_count* b = calloc(1, sizeof(*b));
        if (b == NULL) return;
        b->symbol = qemu_plugin_insn_symbol(qemu_plugin_tb_get_insn(tb, 0));
        if (b->symbol == NULL) b->symbol = "?";
        b->next = blocks;
        blocks = b;
        qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &b->executed, n);
    }
}

struct symbol_total {
    const char* symbol;
    uint64_t executed;
};
static int larger_first(const void* a, const void* b) {
    const uint64_t x = ((const struct symbol_total*)a)->executed;
    const uint64_t y = ((const struct symbol_total*)b)->executed;
    return x < y ? 1 : x > y ? -1 : 0;
}
static void write_symbols(FILE* f) {
    size_t n = 0, used = 0;
    for (struct block_count* b = blocks; b != NULL; b = b->next) ++n;
    struct symbol_total* totals = calloc(n + 1, sizeof(*totals));
    if (totals == NULL) return;
    for (struct block_count* b = blocks; b != NULL; b = b->next) {
        size_t i = 0;
        while (i < used && strcmp(totals[i].symbol, b->symbol) != 0) ++i;
        if (i == used) totals[used++].symbol = b->symbol;
        totals[i].executed += b->executed;
    }
    qsort(totals, used, sizeof(*totals), larger_first);
    for (size_t i = 0; i < used; ++i)
        fprintf(f, "%llu %s\n", (unsigned long long)totals[i].executed, totals[i].symbol);
    free(totals);
}

static void at_exit(qemu_plugin_id_t id, void* userdata) {
    (void)id;
    (void)userdata;
    FILE* f = fopen(out_path, "w");
    if (f == NULL) {
        fprintf(stderr, "arm_count_plugin: cannot write %s\n", out_path);
        return;
    }
    fprintf(f, "%llu\n", (unsigned long long)executed);
    if (by_symbol) write_symbols(f);
    fclose(f);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t* info, int argc,
                                           char** argv) {
    (void)info;
    for (int i = 0; i < argc; ++i) {
        if (strncmp(argv[i], "out=", 4) == 0) {
            snprintf(out_path, sizeof(out_path), "%s", argv[i] + 4);
        } else if (strcmp(argv[i], "symbols=on") == 0) {
            by_symbol = true;
        } else {
            fprintf(stderr, "arm_count_plugin: unknown argument %s (out=FILE, symbols=on)\n",
                    argv[i]);
            return -1;
        }
    }
    if (out_path[0] == '\0') {
        fprintf(stderr, "arm_count_plugin: give the output file: -plugin LIB,out=FILE\n");
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}
