#!/bin/sh
# Runs one example; passes when it exits 0 and says what it verified.
out=$("$1") || { echo "$out"; echo "example $1 failed"; exit 1; }
echo "$out"
echo "$out" | grep -q '^verified: ' || { echo "example $1 printed no verification"; exit 1; }
