/*
 * cmds.c - lookups over the command and status tables (cmds.h, status.h):
 * everything here is generated from them.
 */
#include <stddef.h>

#include "wire/status.h"
#include "base/banned.h"

static const struct vb_cmd_info cmds[] = {
#define VB_X_ROW(id, code_, name_, layout_, op_, flags_, perm_) \
	{ .code = code_,                                        \
	  .name = name_,                                        \
	  .layout = VB_L_##layout_,                             \
	  .op09 = op_,                                          \
	  .flags = flags_,                                      \
	  .perm = VB_PERM_##perm_ },
	VB_CMD_TABLE(VB_X_ROW)
#undef VB_X_ROW
};

/* The index of each command, for the switch below. */
enum {
#define VB_X_IDX(id, code, name, layout, op, flags, perm) CMD_IDX_##id,
	VB_CMD_TABLE(VB_X_IDX)
#undef VB_X_IDX
};

const struct vb_cmd_info *vb_cmd_info(uint32_t code)
{
	switch (code) {
#define VB_X_CASE(id, code, name, layout, op, flags, perm) \
	case code:                                         \
		return &cmds[CMD_IDX_##id];
		VB_CMD_TABLE(VB_X_CASE)
#undef VB_X_CASE
	}
	return NULL;
}

const struct vb_cmd_info *vb_cmd_lookup(uint32_t code, unsigned gen)
{
	const struct vb_cmd_info *ci = vb_cmd_info(code);

	if (ci == NULL)
		return NULL;
	if (!(ci->flags & (gen == VB_GEN_09 ? VB_CF_V09 : VB_CF_V08)))
		return NULL;
	return ci;
}

const char *vb_cmd_name(uint32_t code)
{
	const struct vb_cmd_info *ci = vb_cmd_info(code);

	return ci ? ci->name : NULL;
}

uint32_t vb_cmd_of_op(uint8_t op09)
{
	if (op09 == VB_OP_NR || op09 == VB_OP_NONE)
		return 0;
	/* Register stands for both logins: the password one. */
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (cmds[i].op09 == op09)
			return cmds[i].code;
	return 0;
}

const struct vb_cmd_info *vb_cmd_all(size_t *n)
{
	*n = sizeof(cmds) / sizeof(cmds[0]);
	return cmds;
}

const char *vb_status_name(uint32_t status)
{
	switch (status) {
#define VB_X_CASE(id, code, name) \
	case code:                \
		return name;
		VB_STATUS_TABLE(VB_X_CASE)
#undef VB_X_CASE
	}
	return "unknown_status";
}
