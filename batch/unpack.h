/* unpack.h - a student's archive, unpacked only if it is harmless.
 *
 * Archives come from students: an entry may try to escape its folder
 * ("../../.bashrc", "/etc/passwd"), be a link to anywhere, or unpack to far
 * more than it weighs. Such an archive is refused whole, for that student
 * only, with the reason. */
#ifndef KIT_UNPACK_H
#define KIT_UNPACK_H

enum { UNPACK_MAX_BYTES = 16 << 20, UNPACK_MAX_ENTRIES = 2000 };

/* Unpacks a .zip, .tar.gz or .tgz into dir (which must not exist): regular
 * files and folders only, relative paths without "..", at most
 * UNPACK_MAX_ENTRIES entries and UNPACK_MAX_BYTES unpacked. Returns 0, or -1
 * with the reason in *why and nothing left in dir. */
int unpack_archive(const char *archive, const char *dir, char **why);

#endif /* KIT_UNPACK_H */
