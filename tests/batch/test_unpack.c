/* test_unpack.c - archives from students: the harmless ones unpacked, the
 * others refused whole. Each archive is written here with libarchive. */
#define _GNU_SOURCE
#include "unpack.h"
#include "util.h"

#include <CUnit/CUnit.h>
#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct item {
    const char *path;
    mode_t type;          /* AE_IFREG, AE_IFDIR, AE_IFLNK */
    const char *data;     /* file contents, or the link's target */
    size_t size;          /* when data is NULL: that many zero bytes */
};

static char *scratch(void)
{
    char tmpl[] = "/tmp/kit-unpack.XXXXXX";
    return xstrdup(mkdtemp(tmpl));
}

/* Writes items into dir/name as a tar.gz (zip when name ends in .zip). */
static char *make_archive(const char *dir, const char *name, const struct item *items)
{
    char *path = xasprintf("%s/%s", dir, name);
    struct archive *a = archive_write_new();
    if (strstr(name, ".zip")) {
        archive_write_set_format_zip(a);
    } else {
        archive_write_set_format_pax_restricted(a);
        archive_write_add_filter_gzip(a);
    }
    CU_ASSERT_EQUAL_FATAL(archive_write_open_filename(a, path), ARCHIVE_OK);
    for (const struct item *it = items; it->path; it++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, it->path);
        archive_entry_set_filetype(e, it->type);
        archive_entry_set_perm(e, it->type == AE_IFDIR ? 0755 : 0644);
        size_t size = it->type == AE_IFREG ? (it->data ? strlen(it->data) : it->size) : 0;
        if (it->type == AE_IFLNK)
            archive_entry_set_symlink(e, it->data);
        archive_entry_set_size(e, (la_int64_t)size);
        archive_write_header(a, e);
        if (size) {
            char *zeros = it->data ? NULL : xcalloc(1, size);
            archive_write_data(a, it->data ? it->data : zeros, size);
            free(zeros);
        }
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    return path;
}

/* Unpacks items; returns the reason it was refused, NULL if it was not. */
static char *try_unpack(const char *name, const struct item *items, char **dir_out)
{
    char *dir = scratch();
    char *archive = make_archive(dir, name, items);
    char *into = xasprintf("%s/into", dir);
    char *why = NULL;
    int rc = unpack_archive(archive, into, &why);
    CU_ASSERT_EQUAL(rc == 0, why == NULL);
    if (rc != 0)
        CU_ASSERT_FALSE(is_dir(into));   /* nothing left behind */
    free(archive);
    free(into);
    if (dir_out)
        *dir_out = dir;
    else
        remove_tree(dir), free(dir);
    return why;
}

static void test_a_plain_archive_is_unpacked_as_it_was(void)
{
    for (int zip = 0; zip < 2; zip++) {
        const struct item items[] = { { "lab/", AE_IFDIR, NULL, 0 },
                                      { "lab/04-race-counter/counter.c", AE_IFREG, "int x;\n", 0 },
                                      { NULL, 0, NULL, 0 } };
        char *dir;
        char *why = try_unpack(zip ? "alice.zip" : "alice.tar.gz", items, &dir);
        CU_ASSERT_PTR_NULL(why);
        char *file = xasprintf("%s/into/lab/04-race-counter/counter.c", dir);
        char *text = read_file(file, NULL);
        CU_ASSERT_PTR_NOT_NULL(text);
        if (text)
            CU_ASSERT_STRING_EQUAL(text, "int x;\n");
        free(text), free(file), free(why);
        remove_tree(dir);
        free(dir);
    }
}

static void expect_refused(const struct item *items, const char *reason)
{
    char *why = try_unpack("bob.tar.gz", items, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(why);
    if (!strstr(why, reason))
        fprintf(stderr, "\nreason \"%s\" does not say \"%s\"\n", why, reason);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, reason));
    free(why);
}

static void test_paths_that_escape_are_refused(void)
{
    const struct item up[] = { { "04-race-counter/counter.c", AE_IFREG, "ok", 0 },
                               { "../../outside.c", AE_IFREG, "x", 0 }, { NULL, 0, NULL, 0 } };
    expect_refused(up, "outside its folder");
    const struct item abs[] = { { "/tmp/kit-unpack-absolute.c", AE_IFREG, "x", 0 },
                                { NULL, 0, NULL, 0 } };
    expect_refused(abs, "outside its folder");
    CU_ASSERT_FALSE(is_file("/tmp/kit-unpack-absolute.c"));
}

static void test_links_are_refused(void)
{
    const struct item link[] = { { "04-race-counter/counter.c", AE_IFLNK, "/etc/passwd", 0 },
                                 { NULL, 0, NULL, 0 } };
    expect_refused(link, "is a link");
}

static void test_an_archive_that_unpacks_too_big_is_refused(void)
{
    const struct item big[] = { { "a.c", AE_IFREG, NULL, UNPACK_MAX_BYTES / 2 + 1 },
                                { "b.c", AE_IFREG, NULL, UNPACK_MAX_BYTES / 2 + 1 },
                                { NULL, 0, NULL, 0 } };
    expect_refused(big, "more than");
}

static void test_a_file_that_is_not_an_archive_is_refused(void)
{
    char *dir = scratch();
    char *fake = xasprintf("%s/carol.zip", dir), *into = xasprintf("%s/into", dir);
    write_file(fake, "not a zip", 9);
    char *why = NULL;
    CU_ASSERT_EQUAL(unpack_archive(fake, into, &why), -1);
    CU_ASSERT_PTR_NOT_NULL(why);
    CU_ASSERT_FALSE(is_dir(into));
    free(why), free(fake), free(into);
    remove_tree(dir);
    free(dir);
}

static CU_TestInfo tests[] = {
    { "test_a_plain_archive_is_unpacked_as_it_was", test_a_plain_archive_is_unpacked_as_it_was },
    { "test_paths_that_escape_are_refused", test_paths_that_escape_are_refused },
    { "test_links_are_refused", test_links_are_refused },
    { "test_an_archive_that_unpacks_too_big_is_refused", test_an_archive_that_unpacks_too_big_is_refused },
    { "test_a_file_that_is_not_an_archive_is_refused", test_a_file_that_is_not_an_archive_is_refused },
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo unpack_suites[] = {
    { "unpack", NULL, NULL, NULL, NULL, tests },
    CU_SUITE_INFO_NULL,
};
