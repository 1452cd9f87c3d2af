"""Facts that decide what a phase does on a host, asked before its steps are made."""

# The report's test (02-kvm-modprobe): hardware virtualization flags. A /dev/kvm
# without the CPU flag (nested VMs without VT-x passed through) hangs guests.
VIRT_TYPE = "grep -Eqw 'vmx|svm' /proc/cpuinfo && test -c /dev/kvm && echo kvm || echo qemu"

# 'none' on a real host; the container manager's name inside a container.
CONTAINER = "systemd-detect-virt --container 2>/dev/null || true"
