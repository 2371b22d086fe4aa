// SPDX-License-Identifier: GPL-2.0-only
/*
 * sockdup slots: the index-addressed array behind the cookie table.
 *
 * SOCKDUP_TABLE_MAX_SHARES slots, in pages of SOCKDUP_SLOTS_PER_PAGE
 * words.  A slot holds a share's address, or, while it is free, the next
 * free index shifted left by one with bit 0 set: the free slots form a
 * list threaded through the slots themselves, so taking and giving back
 * an index are a few loads and stores under one lock, and the most
 * recently freed slot (still in the cache) is the next one handed out.
 * Indices never handed out yet start at sockdup_slots_fresh.
 *
 * A page (a kzalloc() of PAGE_SIZE, so kmemleak follows the pointers in
 * it) is allocated when the first index in it is handed out and kept
 * until unload: the table's memory is its high-water mark, 8 bytes per
 * slot (2 MiB for the largest max_total), and a lookup is two dependent
 * loads with no lock.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/compiler.h>
#include <linux/mm.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "sockdup_core.h"

#define SOCKDUP_SLOTS_PER_PAGE	(PAGE_SIZE / sizeof(unsigned long))
#define SOCKDUP_SLOT_PAGES	\
	DIV_ROUND_UP(SOCKDUP_TABLE_MAX_SHARES, SOCKDUP_SLOTS_PER_PAGE)
/* End of the free list: no index, and << 1 | 1 fits in a 32-bit slot. */
#define SOCKDUP_NO_SLOT		SOCKDUP_TABLE_MAX_SHARES

/*
 * Protects sockdup_slots_free, sockdup_slots_fresh, sockdup_slots_used,
 * the installation of pages and every store to a slot.  Readers load
 * pages and slots under RCU without it.
 */
static DEFINE_SPINLOCK(sockdup_slots_lock);
/* Pages of slots; a page is stored once, with release, and never moved. */
static unsigned long *sockdup_slot_page[SOCKDUP_SLOT_PAGES];
/* Head of the free list. */
static u32 sockdup_slots_free = SOCKDUP_NO_SLOT;
/* Indices from here on were never handed out; read locklessly by walks. */
static u32 sockdup_slots_fresh;
/* Slots holding a share; read locklessly by sockdup_slots_in_use(). */
static u32 sockdup_slots_used;

static unsigned long *sockdup_slot(u32 index)
{
	unsigned long *page;

	/* Pairs with the smp_store_release() that installed the page. */
	page = smp_load_acquire(&sockdup_slot_page[index / SOCKDUP_SLOTS_PER_PAGE]);
	return page ? &page[index % SOCKDUP_SLOTS_PER_PAGE] : NULL;
}

/**
 * sockdup_slot_load() - the share in a slot
 * @index: any index below %SOCKDUP_TABLE_MAX_SHARES.
 *
 * The share may be released and its memory reused at any moment, so the
 * caller takes a reference and then checks what it got (see struct
 * sockdup_entry).
 *
 * Context: RCU read-side section, or sockdup_slots_lock.
 * Return: the share, or NULL if the slot is free or was never used.
 */
struct sockdup_entry *sockdup_slot_load(u32 index)
{
	unsigned long *slot = sockdup_slot(index);
	unsigned long v;

	if (!slot)
		return NULL;
	/* An address dependency orders the loads through the share. */
	v = READ_ONCE(*slot);
	return v & 1 ? NULL : (struct sockdup_entry *)v;
}

/**
 * sockdup_slot_end() - one past the highest index ever handed out
 *
 * Context: Any context.
 * Return: the bound of a walk over the slots.
 */
u32 sockdup_slot_end(void)
{
	return READ_ONCE(sockdup_slots_fresh);
}

/**
 * sockdup_slots_in_use() - how many slots hold a share
 *
 * Every share inserted and not released yet: also one being made and not
 * published yet, and one past its TTL that nobody has released yet.
 *
 * Context: Any context.
 * Return: the number of shares in the table.
 */
u32 sockdup_slots_in_use(void)
{
	return READ_ONCE(sockdup_slots_used);
}

/**
 * sockdup_slot_alloc() - hand out a free slot and store a share in it
 * @e: the share; its memory is initialized, and made visible to whoever
 *	loads the slot.
 * @index: set to the slot's index.
 *
 * Context: Process context; may sleep to allocate a page.  Takes
 * sockdup_slots_lock.
 * Return: 0; -ENOSPC if all %SOCKDUP_TABLE_MAX_SHARES slots are taken;
 * -ENOMEM.
 */
int sockdup_slot_alloc(struct sockdup_entry *e, u32 *index)
{
	unsigned long *spare = NULL, *slot;
	u32 i;
	int err = 0;

	spin_lock(&sockdup_slots_lock);
	for (;;) {
		if (sockdup_slots_free != SOCKDUP_NO_SLOT) {
			i = sockdup_slots_free;
			slot = sockdup_slot(i);
			sockdup_slots_free = *slot >> 1;
			break;
		}
		i = sockdup_slots_fresh;
		if (i == SOCKDUP_TABLE_MAX_SHARES) {
			err = -ENOSPC;
			goto out_unlock;
		}
		if (!sockdup_slot(i) && spare) {
			/* A zeroed page: its slots are written before use. */
			smp_store_release(&sockdup_slot_page[i / SOCKDUP_SLOTS_PER_PAGE],
					  spare);
			spare = NULL;
		}
		slot = sockdup_slot(i);
		if (slot) {
			WRITE_ONCE(sockdup_slots_fresh, i + 1);
			break;
		}
		spin_unlock(&sockdup_slots_lock);
		/* From the slab, so kmemleak sees the shares it points to. */
		spare = kzalloc(PAGE_SIZE, GFP_KERNEL);
		if (!spare)
			return -ENOMEM;
		spin_lock(&sockdup_slots_lock);
	}
	/* Like rcu_assign_pointer(): @e's memory before its address. */
	smp_store_release(slot, (unsigned long)e);
	WRITE_ONCE(sockdup_slots_used, sockdup_slots_used + 1);
	*index = i;
out_unlock:
	spin_unlock(&sockdup_slots_lock);
	/* Another SHARE installed the page first. */
	kfree(spare);
	return err;
}

/**
 * sockdup_slot_free() - empty a slot and give it back
 * @index: the slot.
 * @e: the share it holds.
 *
 * Context: Any context but hard IRQ.  Takes sockdup_slots_lock.
 */
void sockdup_slot_free(u32 index, struct sockdup_entry *e)
{
	unsigned long *slot = sockdup_slot(index);

	spin_lock(&sockdup_slots_lock);
	if (!WARN_ON_ONCE(!slot || READ_ONCE(*slot) != (unsigned long)e)) {
		WRITE_ONCE(*slot, (unsigned long)sockdup_slots_free << 1 | 1);
		sockdup_slots_free = index;
		WRITE_ONCE(sockdup_slots_used, sockdup_slots_used - 1);
	}
	spin_unlock(&sockdup_slots_lock);
}

/**
 * sockdup_slots_destroy() - free the pages at unload
 *
 * Context: Process context, module exit, once every share was released.
 */
void sockdup_slots_destroy(void)
{
	unsigned int p;

	for (p = 0; p < SOCKDUP_SLOT_PAGES; p++) {
		kfree(sockdup_slot_page[p]);
		sockdup_slot_page[p] = NULL;
	}
	sockdup_slots_free = SOCKDUP_NO_SLOT;
	/* Every share was released: the count must agree. */
	WARN_ON_ONCE(sockdup_slots_used);
	sockdup_slots_used = 0;
	sockdup_slots_fresh = 0;
}
