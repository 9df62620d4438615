#!/bin/sh
echo exe
