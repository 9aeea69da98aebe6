package io.orion.dedup.admin;

/**
 * One row of {@code stats --histogram} (like {@code zdb -DD}): the chunks whose reference count is
 * in {@code [refcount, 2 * refcount)}.
 *
 * @param refcount lower bound of the bucket: 1, 2, 4, 8, ...
 * @param chunks chunks in the bucket (each stored once)
 * @param blocks logical dedup blocks that reference them (the sum of their reference counts)
 * @param uniqueBytes their original bytes, each chunk once
 * @param storedBytes their record bytes in the containers (after compression), each chunk once
 * @param referencedBytes original bytes times references: what those blocks would take without dedup
 */
public record RefcountBucket(long refcount, long chunks, long blocks, long uniqueBytes, long storedBytes,
        long referencedBytes) {}
