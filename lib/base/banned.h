/*
 * banned.h - functions that are too easy to misuse (git's banned.h idea).
 * Included last by every vibes source file: using one of these is a
 * compile error that names the replacement.
 */
#ifndef VB_BANNED_H
#define VB_BANNED_H

#define VB_BANNED(func) sorry_##func##_is_banned_use_the_bounded_variant

#undef strcpy
#define strcpy(x, y) VB_BANNED(strcpy)
#undef strcat
#define strcat(x, y) VB_BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) VB_BANNED(strncpy)
#undef strncat
#define strncat(x, y, n) VB_BANNED(strncat)
#undef sprintf
#define sprintf(...) VB_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) VB_BANNED(vsprintf)
#undef strtok
#define strtok(x, y) VB_BANNED(strtok)
#undef atoi
#define atoi(x) VB_BANNED(atoi)
#undef gets
#define gets(x) VB_BANNED(gets)

#endif
