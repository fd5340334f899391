package dev.katmesh.reward;

import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;

/**
 * At most {@code n} of something at once, waited for asynchronously: records being scored (the consumer asks for a
 * slot before it hands a record to the scoring pool, and while every slot is taken the connector stops pulling
 * records: back-pressure instead of a queue in memory), or records handed to the producer and not yet acknowledged by
 * the broker.
 */
final class Slots {

    private final int capacity;
    private final ArrayDeque<CompletableFuture<Void>> waiting = new ArrayDeque<>();
    private int taken;

    Slots(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("slots must be at least 1, got " + capacity);
        }
        this.capacity = capacity;
    }

    /** Completes when a slot is this caller's. */
    synchronized CompletableFuture<Void> acquire() {
        if (taken < capacity) {
            taken++;
            return CompletableFuture.completedFuture(null);
        }
        CompletableFuture<Void> f = new CompletableFuture<>();
        waiting.add(f);
        return f;
    }

    /** Gives a slot back: to the longest waiter, if any. */
    void release() {
        CompletableFuture<Void> next;
        synchronized (this) {
            next = waiting.poll();
            if (next == null) {
                taken--;
                return;
            }
        }
        next.complete(null); // the slot passes on; completed outside the lock
    }

    synchronized int inUse() {
        return taken;
    }
}
