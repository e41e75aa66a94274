/*
 * client-int.h - what client.c and calls.c share, and nothing else sees.
 */
#ifndef VB_CLIENT_INT_H
#define VB_CLIENT_INT_H

#include "client/client.h"

/*
 * 0.9 is lock-step (framing.md §1: the SDKs wait for each reply, and a
 * server may answer out of order across planes): one frame on the wire.
 */
#define VB_CLIENT_WINDOW_V09 1
/* A transient answer (57, 58) is sent again this much later (§9.2). */
#define VB_CLIENT_RETRY_MS 50
/* ... and after this long not accepted, the leader is looked for. */
#define VB_CLIENT_LEADER_CHECK_MS 2000
/* Cluster rules after login (framing.md §11). */
#define VB_CLIENT_REDIRECTS_MAX 3
#define VB_CLIENT_LEADER_POLL_MS 250
#define VB_CLIENT_LEADER_WAIT_MS 5000
/* A login from the protocol cache (0.8) answers within this or probes. */
#define VB_CLIENT_GUESS_MS 2000

/* Connects speaking f (a leader found: what the follower spoke). */
int vb_client_connect_as(struct vb_client *c, const struct vb_framing *f,
			 struct vb_err *e);
/* Connects again and probes, the cache ignored (a guess that failed). */
int vb_client_reprobe(struct vb_client *c, struct vb_err *e);
/* Speaks framing f from now on (a new connection's). */
void vb_client_use(struct vb_client *c, const struct vb_framing *f);
/* A fresh random, non-zero 0.9 client id (every login has its own). */
void vb_client_new_id(struct vb_client *c);
/* Queues a frame already stamped (a retry: the same bytes, same id). */
void vb_client_requeue(struct vb_client *c, const uint8_t *frame, size_t n,
		       const struct vb_client_sent *s);
/* Closes the connection; returns -1 (e is filled already). */
int vb_client_lost(struct vb_client *c, struct vb_err *e);
/*
 * A request was not accepted for long: if the cluster says another node
 * leads now, closes the connection and fills e (VB_E_UNAVAIL, naming the
 * leader; the caller's reconnect logs in there) and returns -1.
 */
int vb_client_leader_moved(struct vb_client *c, struct vb_err *e);

#endif
