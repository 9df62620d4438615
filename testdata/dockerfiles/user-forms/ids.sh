#!/bin/sh
echo "$(id -u) $(id -g): $(id -G | tr " " "\n" | sort -un | tr "\n" " ")"
