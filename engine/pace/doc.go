// Package pace keeps a background task to a share of one core. The task
// works in short chunks and, after each, rests long enough that its busy
// time stays at the share of the wall time, so a long scan becomes many
// bursts of a millisecond or so with foreground requests served between
// them, instead of one burst that queues every request behind it.
//
// It is pure logic plus a sleep that tests can replace.
package pace
