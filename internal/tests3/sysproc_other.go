//go:build !linux

package tests3

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }
