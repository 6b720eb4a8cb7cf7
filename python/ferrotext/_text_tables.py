"""Character classes of the running Python interpreter, as code-point ranges for the Rust core.

Python's ``re`` ``\\w`` / ``\\s`` and ``str.split()`` follow the interpreter's own Unicode
database, which differs from Rust's tables (Unicode version, and ``\\w`` = ``str.isalnum()`` or
``_``, which includes Nl/No numerics). The exact sets come from scanning every code point with
``re`` itself. That scan costs 0.1-0.4 s (several seconds on a busy machine), so the results for
the CPython versions we know are stored below (``_PRECOMPUTED``, made by ``_scan`` and checked
against it by the tests); other interpreters scan once per process.
"""

from __future__ import annotations

import base64
import functools
import re
import sys
import unicodedata
import zlib

#: Token patterns the Rust scanner implements exactly: every maximal run of two or more ``\\w``.
DEFAULT_TOKEN_PATTERNS = frozenset({r"(?u)\b\w\w+\b", r"\b\w\w+\b"})

Ranges = list[tuple[int, int]]

#: ``"python major.minor/unicodedata version"`` -> base85 of zlib of ``_encode(word, space)``.
_PRECOMPUTED = {
    "3.10/13.0.0": (
        "c-n<mS+W~B47-p%Bx<iYje5KP5e5L&eoiJesTbSbS|}0(K_$m9Ll0?&5@JYvum?|_&-l&yHGVgK-TXSa`Up3^yLQ"
        "De5?*|1)<DyQ=^5i3tb7|QjIb)_DyF&6MkqLM!9osp1zRE2Ft@?xHXeL;9LX&yy3vdO>VPYeGYfl?;;1yhhp7;-8"
        "1@JDuaGe(!ztvGZ<;oR%p+;yQDEl&)77@I$iAA#Upra?VZlQgp~~s6U0;9CMuz7Y*Kote_Ir8xap}?PR2av9UHV#"
        "mf83dxJcJOV<DR_pDAe?vm8gSRjWl@j!2X@;#|<w<=WdJ*MEP~){J3E|G20EH{KkkZe{xqfq70kdtjdSdqzy2|vm"
        "TmBWF(E97$O$dKfx%IeZTmTQ=5y%w3@NXuZJ`|-FKXIFpey?6%eB-d7j}cveC+kKeydT*d*t90JmY|xv^~92R_?)"
        "AL1WonW_A)D0=6i50R-=Xk(@w&Ja~390PITV-J4bO;q;RDSVNw%&4MhpXKjldiYRD{X&P*j-XUn18D%I^_Rs2Bys"
        "&xsN9<ihuzr4ov2Qo+mvFPtiUT|l`la(xhZ5K#6xX~>NW*w-Snde2Z{{grMj!f-iJ4v?}uK}kDn?uJ!d^t<*4qlo"
        "&^T^#Dsz{bt7V82X~h(P4SbH#DMWjTdsl`p<Orvh}^6W>y3eyb}D@T8fAO&a_$#?0Fv%>-$_XS^Qq$Jr7&iAvqf*"
        "fh^FA`l&{r^hdg94f~rEDFp?cm5xv{rjB=R>@^r9kdQJi`&QM%v;T}g&3Mc^v6&>#Ka5oFKHAkQ6#L4F_=Iph93F"
        "u5h=H$swBWz7|MH0~(!%8eY9&#!<D&672kX+ijNY%LBt1$mGArmA!X+x}9s!`9re|~TlN*5_%_)+y9i`AcaGWnSz"
        "JZJ==0jnmu6eZ7<<lOQSzcidx$-ozND?fy$(tl`k(c;lq&AX#2>VwsnzkF0ZNO}c|D`4`p!Bs;A5ND(EP$xL`6r!"
        "fOO3^!|@ffzh4e{k>U7CxU;U(5LANDUM73rD?E=wS)P@H3Tu*7nIi_{2~IU{h$;NJN9TS+qMMQJ2^Vc^F6K09B@G"
        "p+1;e-ce4-iH$)5<hi&V^md$bT5c9Xf_j*OjUq}h+jyRteGdf+#VHd9K`w9Y);H4WkcA|w^MpN)PE=Oc*5M;z)oz"
        "Ypig$2TfK4ZW|x$$<b18=OU)(1O1G=x{7aWM9RQNwa?M3&x_sSgb7i--f#KC?R@!N0&+;B1x+1~XzDyvKX*mF=^c"
        "rNWrcP%HufGKD;n^j02PKXx2xxpOi`{M!(eC#Go@c@@3LyX;yZ7|Mh;>I{2?FFEKk-`i&C~nO&lTw2K9hck|G3<O"
        "+|F}SZ<?Syp>7ATBB3sxhLF?2yfK5xac`1k*fF)w><n=)Sj(I_AbgEAUY4r65SbF+D+DT`Ka8kc(pC}y?<q;r%<m"
        "<LcK~-NMx&8aLkgo6RXiF4xG_5EkqE5c#^UAznR0B_h_vrzpugT8n@?p6o(8LW-FSu4i|Fr9Oe%bzF_QF44P@W%d"
        "-669&c!CScu}Jtba5SQ0!#Ax=zNhB>7wCrq_wjdw_?ogdi>n`%P$Sqep~<h=bg(Ni~MCz0{Pw-i@#W5%U?GIupo-"
        "nF3Dz!nb(+0eXR}E=7rc!>JF9i#&|C4A7a7(yR_mLToV0aVa)!xlqPTD9D5dO<6k&4tTz"
    ),
    "3.11/14.0.0": (
        "c-n<mTe90a4BL=C^p-qbjr`jG5-tGJPEOnDoi>RqOB4x$piYTl3nQd0)DT1BAm11bj`3UcoB7@Ob@A)q>OEZe9@-"
        "VdOn9)RMH5{wvc{O_WaHCZVTRTCuHiKo<{2u^Td+_<K0{t1wXnItZZ>Xw4;;xYDVouf|J#Hsk#83EB*oEafP+mTU"
        "@`1Z>|cDv*zf}nwoq0m&6Z?^&0}fiR&d#3pu64iD7Km|oE|a3$ic#yp~>;DU0?rhM~CNRuHgp9_j`H$xOD4rQz-k"
        "NE`6=OUUxRV+=UXO<DTNV6ml9DC2MD9BMlxraD1oxHp5H4M$OasbTI1A)!WCF`}J(IQF`M<w%;5!%_!4Zt|~3XQZ"
        "#i&=2<t*Br=o64one`Jl=prmEjL|<fhG4b6U-KqdQk%M84y!opBVgu7V(43A8L1k&adl{4?8~#7%OZ2XGrU9*$>s"
        "A2`nQ8N|Q5Wwy$*qUxE4-bAJ~@d<DGZY)t{!ZFYlJ`SRB610n>i>bppq^mHbDDD?IyD>K$H1faFo8<1-22)@SaLn"
        "VOG0{j|zZ56;mda@}c5)|5ROb$zfhs~7o}s9QiRi&ip%5M(nvFlKHmf`ZO%HZd8DdM#%O^jBCza2KUeb?G8D@=(M"
        "okH7J~xWMAeop=u%$U7S=8X}>iQJlgd_%xU)nM$EC}ty5kTZ(dF0U<XzfS1s-OMP><1+P#4v_C^ywd;CQ6=iehW{"
        "I=mSX56;j*eVKc4){UQ=jOehbT{02b8?6Rj!rA&l&Gl*NCN2sQ*aO?=;J^0Q<MuWHB+{fzdJh$AQDzC38CCUyKB0"
        "B{z7<Yw|Ea_<m7gLiW5v((?#CqdlhmxXtou&rKG;K&MI@eq2l}`uC0>zUx#ipggw5;3bgS2ouNrj9bmF&J)@`)#t"
        "mnp)7PB1#q>Y_<i`b<6!*Od4r-Yi81zF2oaC$n>8cArtTcy^Ysw^K#Ev+By1kE#P{u0S!_OO`men!)^q!!zZE;=o"
        "sTC2Fdt6s=8W9>d<}5T9n&^th@Mo??5qY5QVw3t?C~@Y6qjK7%HyNI05F%@h$><}gs3H@ZYocuF}F+H5?6OOq$XC"
        "%Q&bN>yrSaa6*T$%fmrn~WFYg0(TxTKc{lT_Vxe#UK-dCj5pKP@Obeh+v_1z*VskiIuf%)TozX02{j(KoTca35gt"
        "_#0XF8q-^oXMUHlRP#d8{Z!Rb7-Z=|_gWc&;KV9A&lM<bb>aBjMzrnqENpSS<&YpDu>f@4!rc;|K-leu!y;LWrSE"
        "pIYZLa>7cLy;Y+&KLLf+VM9XwbQRV@AQ{men1t<Bx~`BivqrS5PLof(XZ_Fxep&As%+0;F%Dd<RKtSDGs{_R7S14"
        "4J#OUkNC!%n{D2#ZGEmzm-|h2!rp$G1$C#gZIrDpI1k7pI&$ahN}8QK60s-7SeVLmc{8uiAgP~b_1|LrF_)+de6v"
        "$VsTXxgDJo&A@zF>~#<&??J*CuS#x<1e_Yw%Mm;#do0AeC3P@+zQho%%?uTl~;8W3j=awie-hm`rfXYWoa(fhesj"
        "OWPR$yQxRHQCfV=Oe&YZvQ`GwxP%)+C}q9ER3ZN<$pWW^kBG4%Inp2VtFMFnW?%HKpUVkLsbGEf?H+1&815JbgQu"
        "-({c;Zg=cfC@%>Aq{^;iUxAnh&o_9}f%9lN<@^dq-_K+*@7we+x)`+W7Kc!D8ic6<b+NVN15!*reqC8)iFLnJQLi"
        "}r~SG!KLJWiI=Htyhhqq_s=?uCl_55=9r>H"
    ),
    "3.12/15.0.0": (
        "c-n<mTe90a4BL=CB<f{PSL5gYmv8})c5>QI@3cu|S)xb~1a)doYnrL7sim9>2X<pLImU0*ukm~E>*CkJ)qA?|J+&"
        "*RrQpGrR!t1OFpV+K$<C)`OH0~1-*vp^LR(V9c^fR$WM{H1m7dlxINZjK?};P1rDQjH@_%38O6Hpldy3-dG{C{C5"
        "U?2b7wq5oim~Ab9;~Tusdist3Y*8$%&p+eW1zbu@Tk6;E}RiD!La1vEUC-!uU%jN?m&m<7}sz^;QPJ2eO$WrxGI$"
        "WPnW({U#~l>UhYDP(Q!|WTnagjtCF=dvzZ1D9yq_#eY@dJzGltS_!3~WpR3o8EBEW!>Z9_;iEO_)?3z)gO|B{})l"
        ";<S4C7fh%@i_|#tuvo51Vg5qRNa1KXTRPra7%<yg8h!Fe2Y^*3LMpSl2+1p#*xCt4K#H2mZP3LE;uU&jYv(8;`(q"
        "gby6s@(l7{-ZESDS<&>&LvJF}yZD4RV|SLQGT|8L3LhuYI0@Rt(Z$qZ9nw`9QWp2CoL!k44m$bY=uHXtTZbvI1~}"
        "S$XiPK;*KdlGdu!vg8#}oZC8~3$&OjBR49`?m!$kDprc?<J4>jixtIaD<LDPdBRfgC~kMgl+@TBtj&`bL9DMQn^Y"
        "SfjW9&@t_43df21Y3F_Vxk6jx6r5jCZsT6{L+?7VMS;sjsPMT%fseipluxKYH{{MvmcZI5YrhR(3gLFx+r<d`87Q"
        "`q7NX!P)L21huygb^s7ifF`+yd`3-=G+2v10r7VPYb%^^|j?`RT;n<PHd+?o!%non6xsTO3cy7HTRZ(Ayl*j@sM0"
        "N^bFz!mVc+$&~LQGwXM6kiY3hRxB9ZHJob#XN)u4z+ZF}U7KuYNj^36x0IA~tO*OwYQ1K1d6vlT<MLsATtzC0}?l"
        "d08?%7zASgts$B;rO)N#2u;af;>}WI;2Y}>=omYPvHQ%X#mis`M>|#2JFBjK`KUUO<_Z*-z2b?3s|Mz8INT^V6bH"
        "V#8&Oj|mF#WOcno`AKzzDc*W;#6c#7@Ar~Qk`t%PCIfuH{I^BFWLRl?C-Y8DZJWex+aN24ngg{PE_(3<lIE-gGMK"
        "hbrPQmWDhi=z=HBOC6>ZgF0S3*N>=Yw7#$bjd_p7Xu>(UHDBeptjI#C4!aO0awLFBv#hUsnIUS05<k0fFe$+5(+s"
        "$i4mUON!j9&3(J0cP#d8{uOTPw-eyAJV0XIIPq%1}MTss!b#>hPs|7gbYt#it|8DQ5Q&1$A+;p*8UG^^Z#uoLuV0"
        "s%gE6ueQZ+U?b-9eBuZXw8Y*&Gsz+P*TaAapmiNN@Y|DT0~qD8nl$om@ef^HZH{lN)iKeyQM@P@NJXAXOz#zYH`+"
        "tqTsz7@*Jm#%$d;uim>p_oplTCPj;dJ8FNSL4CMQHLbd?RI?#~52z*@_2BD9L`cn>5hD;Q98{*cT+!&;Gbrk{rru"
        "ngTka_}gKu_9EVZO<QjtdVT7L8s{>__Fw^J%k)?8B@crS<+!JKi~B9{Quf|Nn52JIf2QuM=y-(v8Eh6I8wGj$T6j"
        "hDRk-pBV~oyy?3fz0RlJ^0u{a5dT0W0yy$y)6HKL_$EhXI58H>N0u)WY}0rn|fOOwb9Ch?Cv*3wA<oCyN2ATuRbD"
        "wO&1CX3nXf)#K2#0vTko@Y7$Rfi9GVMg@qidwT9LF{+ZH#Tm|g6^}m0fcTe)_mpw`PbFFRuV2ziP?V@D2jC<8MC2"
        "l2GQtMPl9*aUe5!*rSqqbj|ui_IBynhih{>3$#U&&crCmFNOJB4QH{=vC>LqYxr$neoZ"
    ),
    "3.13/15.1.0": (
        "c-n<mTe90a4BL=CB<f{PSL5gYmv8})c5>QI@3cu|S)xb~1a)doYnrL7sim9>2X<pLImU0*ukm~E>*CkJ)qA?|J+&"
        "*RrQpGrR!t1OFpV+K$<C)`OH0~1-*vp^LR(V9c^fR$WM{H1m7dlxINZjK?};P1rDQjH@_%38O6Hpldy3-dG{C{C5"
        "U?2b7wq5oim~Ab9;~Tusdist3Y*8$%&p+eW1zbu@Tk6;E}RiD!La1vEUC-!uU%jN?m&m<7}sz^;QPJ2eO$WrxGI$"
        "WPnW({U#~l>UhYDP(Q!|WTnagjtCF=dvzZ1D9yq_#eY@dJzGltS_!3~WpR3o8EBEW!>Z9_;iEO_)?3z)gO|B{})l"
        ";<S4C7fh%@i_|#tuvo51Vg5qRNa1KXTRPra7%<yg8h!Fe2Y^*3LMpSl2+1p#*xCt4K#H2mZP3LE;uU&jYv(8;`(q"
        "gby6s@(l7{-ZESDS<&>&LvJF}yZD4RV|SLQGT|8L3LhuYI0@Rt(Z$qZ9nw`9QWp2CoL!k44m$bY=uHXtTZbvI1~}"
        "S$XiPK;*KdlGdu!vg8#}oZC8~3$&OjBR49`?m!$kDprc?<J4>jixtIaD<LDPdBRfgC~kMgl+@TBtj&`bL9DMQn^Y"
        "SfjW9&@t_43df21Y3F_Vxk6jx6r5jCZsT6{L+?7VMS;sjsPMT%fseipluxKYH{{MvmcZI5YrhR(3gLFx+r<d`87Q"
        "`q7NX!P)L21huygb^s7ifF`+yd`3-=G+2v10r7VPYb%^^|j?`RT;n<PHd+?o!%non6xsTO3cy7HTRZ(Ayl*j@sM0"
        "N^bFz!mVc+$&~LQGwXM6kiY3hRxB9ZHJob#XN)u4z+ZF}U7KuYNj^36x0IA~tO*OwYQ1K1d6vlT<MLsATtzC0}?l"
        "d08?%7zASgts$B;rO)N#2u;af;>}WI;2Y}>=omYPvHQ%X#mis`M>|#2JFBjK`KUUO<_Z*-z2b?3s|Mz8INT^V6bH"
        "V#8&Oj|mF#WOcno`AKzzDc*W;#6c#7@Ar~Qk`t%PCIfuH{I^BFWLRl?C-Y8DZJWex+aN24ngg{PE_(3<lIE-gGMK"
        "hbrPQmWDhi=z=HBOC6>ZgF0S3*N>=Yw7#$bjd_p7Xu>(UHDBeptjI#C4!aO0awLFBv#hUsnIUS05<k0fFe$+5(+s"
        "$i4mUON!j9&3(J0cP#d8{uOTPw-eyAJV0XIIPq%1}MTss!b#>hPs|7gbYt#it|8DQ5Q&1$A+;p*8UG^^Z#uoLuV0"
        "s%gE6ueQZ+U?b-9eBuZXw8Y*&Gsz+P*TaAapmiNN@Y|DT0~qD8nl$om@ef^HZH{lN)iKeyQM@P@NJXAXOz#zYH`+"
        "tqTsz7@*Jm#%$d;uim>p_oplTCPj;dJ8FNSL4CMQHLbd?RI?#~52z*@_2BD9L`cn>5hD;Q98{*cT+!&;Gbrk{rru"
        "ngTka_}gKu_9EVZO<QjtdVT7L8s{>__Fw^J%k)?8B@crS<+!JKi~B9{Quf|Nn52JIf2QuM=y-(v8Eh6I8wGj$T6j"
        "hDRk-pBV~oyy?3fz0RlJ^0u{a5dT0W0yy$y)6HKL_$EhXI58H>N0u)WY}0rn|fOOwb9Ch?Cv*3wA<oCyN2ATuRbD"
        "wO&1CX3nXf)#K2#0vTko@Y7$Rfi9GVMg@qidwT9LF{+ZH#Tm|g6^}m0fcTe)_mpw`PbFFRuV2ziP?V@D2jC<8MC2"
        "l2GQtMPl9*aUey`iHqts5_DQ1}aPt5^jb?_WfYe|L@M7jxFwN#3mUPN7`7g>dfPP?rAzv{%xe"
    ),
}


def table_key() -> str:
    """Key of the running interpreter in ``_PRECOMPUTED``."""
    return f"{sys.version_info[0]}.{sys.version_info[1]}/{unicodedata.unidata_version}"


def _encode(word: Ranges, space: Ranges) -> str:
    """Ranges as hex gaps and lengths: ``gap,len,gap,len...;...`` (gap from the previous end)."""

    def one(ranges):
        out, prev = [], -1
        for lo, hi in ranges:
            out += [lo - prev - 1, hi - lo]
            prev = hi
        return ",".join(format(x, "x") for x in out)

    return one(word) + ";" + one(space)


def _decode(text: str) -> tuple[Ranges, Ranges]:
    def one(part):
        nums = [int(x, 16) for x in part.split(",")] if part else []
        out, prev = [], -1
        for gap, length in zip(nums[::2], nums[1::2]):
            lo = prev + 1 + gap
            prev = lo + length
            out.append((lo, prev))
        return out

    word, space = text.split(";")
    return one(word), one(space)


def _scan() -> tuple[Ranges, Ranges]:
    """Scan every code point with ``re`` (the reference the stored tables were made from)."""
    every = "".join(map(chr, range(0x110000)))
    word = [(m.start(), m.end() - 1) for m in re.finditer(r"\w+", every)]
    space = [(m.start(), m.end() - 1) for m in re.finditer(r"\s+", every)]
    return word, space


@functools.lru_cache(maxsize=None)
def char_ranges() -> tuple[Ranges, Ranges]:
    """(word ranges, whitespace ranges): inclusive code-point ranges of ``\\w`` and ``\\s``."""
    packed = _PRECOMPUTED.get(table_key())
    if packed is not None:
        return _decode(zlib.decompress(base64.b85decode(packed)).decode("ascii"))
    return _scan()
