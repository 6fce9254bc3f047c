"""`download`: fetch the public datasets (SMD, SMAP/MSL, PSM) from their original sources,
verify each file and resume an interrupted transfer with an HTTP Range request.

A file is written to `<name>.part` and renamed only once it verifies, so a corrupted or half
transfer never leaves a file that looks complete. Sizes and SHA-256 are pinned where published
(SMAP/MSL: TimeSeAD's `data/SMAP/smap_checksums.json` and `smap_dataset.py`; PSM's sizes);
elsewhere the sha256 seen on the first download is recorded in `_downloads.json` and checked
afterwards. When every source of a dataset fails, the error says how to get the files by hand
and the `prepare` command to run on them.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from http.client import HTTPException
from pathlib import Path

from .raw import dataset_name
from .raw.entities import CHANNELS, MSL, SMAP

CHUNK = 1 << 20
RECORD = "_downloads.json"
OMNIANOMALY = ("https://raw.githubusercontent.com/NetManAIOps/OmniAnomaly/"
               "7fb0e0acf89ea49908896bcc9f9e80fcfff6baf4/ServerMachineDataset")
TELEMANOM_LABELS = ("https://raw.githubusercontent.com/khundman/telemanom/"
                    "05517ad31bb0b6feee2022ace15eb286c8f3e693/labeled_anomalies.csv")
TELEMANOM_ZIP = "https://s3-us-west-2.amazonaws.com/telemanom/data.zip"
TRANAD_ARRAYS = ("https://raw.githubusercontent.com/imperial-qore/TranAD/"
                 "7ffb98d0c18189cc3d9ab732b4cb0278200a0af0/data/SMAP_MSL")
PSM_DATA = "https://raw.githubusercontent.com/eBay/RANSynCoders/948e61eb579815ff2a6bce721332d8220d59ca47/data"
SMD_MACHINES = ([f"machine-1-{i}" for i in range(1, 9)] + [f"machine-2-{i}" for i in range(1, 10)]
                + [f"machine-3-{i}" for i in range(1, 12)])
NOT_PUBLIC = ("is not publicly downloadable: request it from iTrust "
              "(https://itrust.sutd.edu.sg/itrust-labs_datasets/), then run "
              "`python -m tsadbench.datasets prepare {name} --from <your copy>`")


class DownloadError(OSError):
    """A transfer that failed, or a dataset that cannot be downloaded."""


class ChecksumError(DownloadError):
    """A downloaded file whose size or checksum is not the expected one."""


@dataclasses.dataclass(frozen=True)
class RemoteFile:
    """One file at its original source; `path` is where it goes under the destination folder."""

    url: str
    path: str
    sha256: str | None = None
    md5: str | None = None
    size: int | None = None
    unpack: bool = False


# SHA-256 of telemanom's data.zip content as TimeSeAD publishes it (wagner-d/TimeSeAD
# data/SMAP/smap_checksums.json); sizes are the .npy header (128 bytes) plus float64 values.
TELEMANOM_SHA256 = {
    "labeled_anomalies.csv": "057ce2d6c8875982bf4e5404aefea14efdcbce413d80826d2b737c95b59b7539",
    "test/A-1.npy": "7509b72cd170003c3135e12d1f4c67b263dc5be58aabedf12ed14e7561fe6dc2",
    "test/A-2.npy": "48776d8e71a7d1b24d51adce4e21fc9aca968fea7aa1e06b073c4f219991311a",
    "test/A-3.npy": "a0d169d1cdb6b5e6af41782c64d2fedb8d585312069fedd052e3294b4f526c85",
    "test/A-4.npy": "311760674bd5dafdd05cc91c39123330e1ad3dcfeeadb93385756d15b2d69592",
    "test/A-5.npy": "45290a92c44a1f6e77a7531ed4fdbbb9b98c4516a2f851694429b67cf5d650a8",
    "test/A-6.npy": "cd72a62bc1758e487259988a4b93b31086a32ab48d0181a66f1af5cc1ce0e416",
    "test/A-7.npy": "ef8212b614006f1c771e630de1778f3037f78b9f860bbf9a9422b8e147790d8c",
    "test/A-8.npy": "16f318c276d5cead94e89c37773068511a35f34ea0830e25fdd3eb7f57cd5a71",
    "test/A-9.npy": "0672a0de39d40511f289d157d81b9e74f6ebbee1bccf9ce23c704dc1baf69566",
    "test/B-1.npy": "4d6b0b3f0e31efd04fafbf6fea70710196095d9f5773ed714d6f4668b423146a",
    "test/C-1.npy": "ea8bf028555a09a45b5fd5003958c8500da46b12178c963186293db14e3c8aab",
    "test/C-2.npy": "dca3a5cc07ec3899c2b9c6bc28a889d9872a670d08677065d39da1326c14c2b4",
    "test/D-1.npy": "49ec824e3f887a59c012599acfc080471702ed3c2d243cc73dd8f8e2e1205711",
    "test/D-11.npy": "e5703acb3633dc8285ed755d9b74d2e2a08fc00ebb9e04aba34e37fcf47231ed",
    "test/D-12.npy": "5b6eb79d58d5017ff04b8bd0275c8e14915e272352f528646c63d7cef1d6598f",
    "test/D-13.npy": "242836dc5c0f6ebe3e1256c66430219e5369e2c525435f4da4f9b7ff10dc24a1",
    "test/D-14.npy": "65400342172e5a01f36c389bd85b8bedce410965e155a10cc600c3c3834d8bc7",
    "test/D-15.npy": "0c5691a3fc17b87d06eb23548931ffa589a5f4bed608b6db40ac976cd5695acd",
    "test/D-16.npy": "85d98f5b6223a10d5ac1c881872cd7c6b93f288236632c282093a41dbba31490",
    "test/D-2.npy": "06233a61aabed60cf25a8d983182ef4d5673ee7dd6dd5337df76c9014f8e8080",
    "test/D-3.npy": "81c676e4741b4047c4c9e88521ed09c6c5c0323e6ab78a06328323776a5492c3",
    "test/D-4.npy": "cfd4a2d02f94983d92ac300cc4d88ce64bb5e497b18468d04cc102572e7f8a09",
    "test/D-5.npy": "3840a275b0ac6d50ccb499d7d225a081ab44098c67abed5a91e5ce3534cc2ceb",
    "test/D-6.npy": "16b49e76d9e9ee125159b841cde0e7d29b1f8bfe1cd64474cd886e1a5d41593f",
    "test/D-7.npy": "3ac8e58d26b2fcd4f276a60ea15d24ad3306a7ea829f719d61752d4e3feae36f",
    "test/D-8.npy": "a7e8cd34563f2e0c846afb0a0a87e5b7151c16e44e36376db2fe774f145b183d",
    "test/D-9.npy": "ccf6c64b3cc2dd4bfb408d7225b3540f4a68de4be7808c12e642697b61f9bfbd",
    "test/E-1.npy": "b3426072dcf0b153bc34acefc827e2a8933d1c3d86ae20674504ad1ad7000f86",
    "test/E-10.npy": "d1d28e86edff75219683e0d18c5342fdc240fc17a263bee47065c7e7b03f6d49",
    "test/E-11.npy": "7e92f952316e2996e6dad1595eff26fc88be8a37c026f11b6d55e4df27af7a81",
    "test/E-12.npy": "d00acd9fb12fb9e97315d266963e8dedb051a29f8fa0bf3f4cdcc5f27c7029d1",
    "test/E-13.npy": "e869a18acde867b1aca34a346d6e7158fe391cb46722619ea1e3ed0f3ffa3e65",
    "test/E-2.npy": "47f7e5bafc9bbc8f4f3f3547f2e77f794ab24bcaaa9662c7020fd18c2384129b",
    "test/E-3.npy": "86865b2a9b95eb854d7a75755d27001dc8337d0f24d45fcf4202b7dcd796f13c",
    "test/E-4.npy": "d0e6cc6c43e986b49a1eea5c7b37efc0f15bf73b96b816a11d84b5755e28f750",
    "test/E-5.npy": "e1d0d97f898c474cccf04c7ff9cb57e319a215bf2ef51c61302ba944c69d3ceb",
    "test/E-6.npy": "cc791f2bb1b9ef88af2702eacf2265c4b9991eb2c224c8faffcdbe8fac53baa2",
    "test/E-7.npy": "229a2fa46dc670b911e35fd939f4380eae71fd112c8e7957f0a30c2113afe408",
    "test/E-8.npy": "75c44c1016aa13059013cb85bfca05289de9f7b844b9c0a0090a181fa420f713",
    "test/E-9.npy": "567a05e4c2bf3b80778f9f2ddb2e310a3b48e48c01eb653b43dda22575dfb759",
    "test/F-1.npy": "359a895d7be89c775c7e743a6bba889944bc173faee8d996b9ea3b0cf7a35dad",
    "test/F-2.npy": "fad0245c5da022c75d0e8aba2b2dc6d3a7533acb1ec2531696aa2158fd22cb26",
    "test/F-3.npy": "89594ed83d720ebb56cd72485eed1fdd64f4f405ad00ea2659f33d828f6fe915",
    "test/F-4.npy": "6b9610c11604ecc64ee537533d7392b4337a0d50ef4bf9ae84783e7262fa9612",
    "test/F-5.npy": "4ab308e3835547b8144acf8df136c9895ce759b30de0851fb23eca999877036e",
    "test/F-7.npy": "8474d57429c8541ad5efd4635c8751e3d90fb1feeba3a4b94958cada77f90665",
    "test/F-8.npy": "ebb950663e30ec91e52b6b422528bc4025563506af7fea6303eeabe5b2cd674e",
    "test/G-1.npy": "1de5cba1063374e9ab488020d53a380a9a412e24f91b11ffb4361260aa240613",
    "test/G-2.npy": "e32d52571233429743f9e30fb68682ece87408f2393c9d36d96e9e8238578cab",
    "test/G-3.npy": "b6d8bd083551ae1c720df050f4b96ecba080e885833499fd8f0d20c7b89a74fc",
    "test/G-4.npy": "f4ca6997c44f3eb2f407a0fa45dd7c236d4540e36b3ff2cafdd1d73900fa29d0",
    "test/G-6.npy": "634a6702fd8132143ec49767774910a75f50e8962cedcce4e1b98e15d0e39579",
    "test/G-7.npy": "51c434210b75beedb37304dcce9e68c4bce0cac4e1d52b0f70a13b59ea7b31ef",
    "test/M-1.npy": "58e16675dc0bada099130d02bd29279ea20c764bf3415bb5adefd626ef94dd56",
    "test/M-2.npy": "1bee2419bc4b5d9a7a71e830c1af5c98837ab31640da553f8f0d3eff9e86af49",
    "test/M-3.npy": "3c43c068fddbf661c6e7cbd933f8b10adcef9cd446818a160ef7c62994fb3d3a",
    "test/M-4.npy": "bac52a304556631942d5e548a4ecc1cbf3aae3409aeb5c8eaaf3126b1ae83ac2",
    "test/M-5.npy": "e4d8cf724bf78d94daae0dc66d5f1a3023545229e15ab9aa3877c267a41b57b5",
    "test/M-6.npy": "4138b2b33f919eb0791b0d2f5337f605bcfc533b07ed91015bfbbcda1c08a612",
    "test/M-7.npy": "28f065fa569a5073eca60f99dd2d3dc93b449ed61e53e543d36e43392fd27bf1",
    "test/P-1.npy": "5dbed44bbd0a643e5e3131578c233e73428c70cc678ea9727dde4f3a2da53ce1",
    "test/P-10.npy": "2a34698f41fd1a16324f26d86a9443f3c633e7554f524e53d4773b40ca83a52a",
    "test/P-11.npy": "dad84034fd7ad1b2dd4bcbdaefc345719c2fb1b1d3a7713257c612fc995ecc44",
    "test/P-14.npy": "2a34698f41fd1a16324f26d86a9443f3c633e7554f524e53d4773b40ca83a52a",
    "test/P-15.npy": "2284348ac1fc998b5aa76c5bbfbeff977f36b17f9602b6654dc65552b50954ae",
    "test/P-3.npy": "e3193c5386eeef89e74f20dfda2125952ef95b621338bceed747a17c7ad334c5",
    "test/P-4.npy": "a52c4146fef3a001cf4a878eca3c0738ea228ff23f97880607c1650e1e73a44e",
    "test/P-7.npy": "4b253756e2e4d0283a6c83064ed5730558e345b3e6f85d1dc4018a7c1b655786",
    "test/R-1.npy": "6bce84dddd243d5b82a7d47c42a3237b550564c28c7dcf92b11c58de1ca0d010",
    "test/S-1.npy": "76dbe1a9717b1fc4e6e7119883c4ccdf984764a1e8599b225a4241b67d043652",
    "test/S-2.npy": "fb9651f2d378bfceef7d694cbe3cb7eafd36b8113241da247b98da53caefaeea",
    "test/T-1.npy": "570153ed8c8368cde8122f87ee1078eaf33ccaa972baf3e7ea81cc3a1ee41004",
    "test/T-12.npy": "6848f4f7eec6c086862e0daf766617994935e265f2cd9bf229282609c13986bf",
    "test/T-13.npy": "ebdf225ad1b21faf4c0c3013de07f1ab77cefd1329587421cfa424128b9433a6",
    "test/T-2.npy": "6245ae92ccb55f3a9cffe6b28b05b1c8644b5ff6033f5f9017c89d485340c445",
    "test/T-3.npy": "ee251c98320e7164f233b4a3f9f5e1a0f447ce6d4c70e6d402e9705ae3c06103",
    "test/T-4.npy": "330499f248367f9bb3eae4eadc105fa9d44bfee3913a3d4b066f9dd3c43a4156",
    "test/T-5.npy": "164cc73b9f82861959f61c54828c3ac70e6ffcc005b38c84a620c125106a6041",
    "test/T-8.npy": "5778979c00621904c36f09bc432b462b87623b7ebc0255dcb4829895b2359b34",
    "test/T-9.npy": "4746b631cc292906c2cbc3ede7d472268f2c799bca41e13f2b0253bf016617b4",
    "train/A-1.npy": "ae426533f9d4c6247a5cc1eab89438fed8bf768b0a41d60d42f3a65a7ebc80b0",
    "train/A-2.npy": "c31945b5a6dd5507b9d74862faf9c47ba58aca31bed6636b0e83e935ffbd5d78",
    "train/A-3.npy": "eaabc3d4cc6fa14db1fb0b4f621d6b219889305df6a4cf30c20730a881c3b5f0",
    "train/A-4.npy": "c48f4ad7a5813794c1a476267a5e4782217c7ec5fef8f95ae255c3db128f4def",
    "train/A-5.npy": "86de2a5204c647da7db1921cdee0957c3cd2cc7778ab5424729210624847b178",
    "train/A-6.npy": "f47ac31688c05ca59b84648a4885de290c531e035974c313fb74d79f582cd0ba",
    "train/A-7.npy": "8ab669b686d13b61027edde2fa674de73952fc0d498b412a1195c70cf20af52e",
    "train/A-8.npy": "517840a64e14f8e47081518a7ae8301cd4331b323e690beef3a163298d15b2e2",
    "train/A-9.npy": "37e69be31c164c4c190eebeb26f14b1de14ff44beaee0637d1a4d612c1cafd6e",
    "train/B-1.npy": "96a10612e976d21bd8301086c35f422a97d55738ee85d7e16a37768d0d6104a1",
    "train/C-1.npy": "31fd0a2a44f5beac2c64e1484d5c96ea4adecdd1b52013775e215b01260975ee",
    "train/C-2.npy": "5d05b47d790135de8d91ca2918d95892c3f52fbfa567fe5b637d51aaa8b91871",
    "train/D-1.npy": "8ef3242bcbe3d3b1b1d4a635b3bf556a1d40281327b91aa5d52604bf3eaac9f6",
    "train/D-11.npy": "805fbf974233e01837fbff8f55e43d5ec2ae4278221b49fb65e66db4ee9f448a",
    "train/D-12.npy": "950f67a5fba71ce5f1dc1f6560f4c4cbfef88ff1702b6755a6d6677e9959f8c3",
    "train/D-13.npy": "c667ac320263fb30d462dbdbd909966d821b9a609a08f2ca2f7fb635f6f6d87b",
    "train/D-14.npy": "1021af01d1935e16507c7696275c16cda3056997780baa8d9d72997a157fd65d",
    "train/D-15.npy": "18007d3503e9109d2c89e25e37ab4b8c652030d9e03dcde4f19b9a4d0496ab51",
    "train/D-16.npy": "24f5d66a9158257c5b2595686f8888e50777427772b05a16f09470bdb7b5b577",
    "train/D-2.npy": "5c794ba84fd1304faa79623a1f108549910a846cb17e77700d2f25a0112b8d96",
    "train/D-3.npy": "7e6f12c26dfe7706734151e0b6f4e2a446f0aa9df800bc6b894477c7724a006c",
    "train/D-4.npy": "c8e8fb80a31fe2fb0d181ba80a4f7590e4e17643dacc8f3adcac08c97d801daa",
    "train/D-5.npy": "47622486ea1a1931fabcce70fc83b930e55f64e0872bcd86524bcf3fcefc4631",
    "train/D-6.npy": "5219165cfc37c33cd4b7552de3bbe33c52996a42ed8b47e865645aba3e8250e4",
    "train/D-7.npy": "4e6ae078370b1307e988a45b87e0b93a1df21b1b07ea1327955b3f5d3bde637a",
    "train/D-8.npy": "57aa44aa6b07db647f074bbf56b2c67e5f7a6e4f4305787dd1b39ac2224ccd87",
    "train/D-9.npy": "8e88aa864b0de99b9b04d19d5c2db07d9f8aebd0595076f8be7f98b7487ec942",
    "train/E-1.npy": "adef4d2a83660467f41fdb1d586b63ced4ff59e5516f07e2efae824d9129a023",
    "train/E-10.npy": "df543a47b41d33c52eefb7c320c3b03f0979d89ba2be29730601886d2b7cbf2d",
    "train/E-11.npy": "34c59f1e07a46a971e0546014c248b03ecf7f6a38cdc81d34481165164aaa27c",
    "train/E-12.npy": "8eaefcc79039f9c781bc66b2cc2933f97599d63dfdcad4fe4fb9b8170f28d27d",
    "train/E-13.npy": "8544a2e2b737b6962d86daeb1046f7d864ec9221b7d3ec6d6bdcc2444c9deef7",
    "train/E-2.npy": "8709cde1ac1d574fb0c85b2eb5c02c58dabed541aa3f90053adedd42c5ebaafb",
    "train/E-3.npy": "611bed41517fcdc3ad6648f36d22026cf4877d3be542b498a96a42a9c34a08c6",
    "train/E-4.npy": "d1046979a23e31d3da6563332c3e5eaa106d73d50729e3be04b7ef53ecbe139b",
    "train/E-5.npy": "bc1b6ed3f1e939bb29899088ecc328cb7516487752a1c8668434de50932e8ee3",
    "train/E-6.npy": "810daf92496572d7f2046e70a23109836e6b23bc0df1c9236dcc61015849376b",
    "train/E-7.npy": "ae811efa8fce18d8bb99770929d3782e62cb0bd96bbbe37bb73f00e1c9104afc",
    "train/E-8.npy": "b84fe984f4aa107444094cd3e1b6f10401420cdda1cd1e7dcf3bce65498b322d",
    "train/E-9.npy": "91b75853f36b902e8b933682f031dd0552c365e5b9f2048d867c987a0b3206d0",
    "train/F-1.npy": "9a769de4be510d19f39570c36a7ebf348da354d8d3a5bd014c0a37a26dfad00d",
    "train/F-2.npy": "9a49936dd5450e6eca94e3f8652959d1d3cc106b877d315a2ec669c6fbc8b842",
    "train/F-3.npy": "be15ed5bb3773df3eacb98e29b98bfa32b5b6f455da6a32b693176c1d6faf021",
    "train/F-4.npy": "7dcf1bdd8a8b59a119b7b080a8b63a77a0a738723714402f20d9021bd4618bcb",
    "train/F-5.npy": "3c79ee702010f82388b73bd537a84383d4dc22848b4c7aa4a2a3e0d6ac94102c",
    "train/F-7.npy": "f1c908cad80a8bf6cb7117d736d1a22927522572ca7987128bc4f8419c886411",
    "train/F-8.npy": "213ce7f2d28150b2df0e600b88f0574f9aaafafbe33449fae98470b99b0a9d8b",
    "train/G-1.npy": "41ddb9a1a0615cb86803e147a612fcd5e8502d3e114096b3fd689e8be32f8cdf",
    "train/G-2.npy": "8b44fdda45871023ee3b7a6eac9422f0727ccc2bd2c38bb42c89f62aaa018d42",
    "train/G-3.npy": "98c574aca9cbfece2ff9b9fc23d58fe499c3df8ae91f51cacdb98608a31df4bf",
    "train/G-4.npy": "416e2602798d4193b095f0f9432d446a4fcc655640994d98fc8c69fe23ffb57b",
    "train/G-6.npy": "9e645aaf5e8e14d747265e838cc62b0d1f5ed2be830b6732c1e3d3f7c717d288",
    "train/G-7.npy": "f11ec2989110630857b54a30750eca5a94a72e4e91c63671f16d61f04c85f455",
    "train/M-1.npy": "453bfb0edbbdfd3654098a652fad3a49f07fde9242993078dbe8f1bae1751612",
    "train/M-2.npy": "61b50d819aaa87f57ba8a90163c3fabf815e8c6a1f242ab60d410d5edd8f42fa",
    "train/M-3.npy": "c48a3f877d939f604cad977aa259595726cbf34f0193e423285545f512c2b3f3",
    "train/M-4.npy": "a21e75cebb452724be26f5ca5f463c2b86588bcac25217c4cae27d563a81b0d1",
    "train/M-5.npy": "a8512b5b0edc1515539539fe93eb731bf7e2528d9322b39782bf1781f5ca66a6",
    "train/M-6.npy": "681fab71a4c910ceddc519b96e00adbc31e53f485284a62cfae8de2eb5358f26",
    "train/M-7.npy": "2d66222bfe39372470209a8d3e6f4aecd4e755fd18831cceb497c35e2a403405",
    "train/P-1.npy": "78b6eec2b3cb1e6711d07ce994c7375de94b036d839c0f06fe258f446dff667a",
    "train/P-10.npy": "b537ea82e001d9eaaa611ee41e79fdcc4d5a8387fd27392e65678cc4c808a692",
    "train/P-11.npy": "f21060190cc1a10a9aa4f58b37b2a1b9af660622c4e488194afb16d7b56d08b9",
    "train/P-14.npy": "183f77aa16a596485f05bf2f79b8f40fcd707d42a640eb37306a65f4c7672aa4",
    "train/P-15.npy": "4a325d0b70aaa431f0c452472b5a30c3720b6881cd1c0bf4e7e73e821dc4c824",
    "train/P-3.npy": "0046a883736324dcc63f91c942f7bc68a2c388168548ef9e9f57fc360a78ede1",
    "train/P-4.npy": "3633cc3488ccabd80319c12f4abdf4e9190455fdf92c57980e9e2ed5ff0004a6",
    "train/P-7.npy": "2aa7a74edcbde2d51383e401a726062ae1015ba51276c792ae26a6a2a0df1bda",
    "train/R-1.npy": "116213e95e68274c79c9e5d2d69c27e4f42c566a105494d425080a1e00bef580",
    "train/S-1.npy": "196c8413ba0319ea6366273b1d558c07d87c286425e1611768fcb95df37fb309",
    "train/S-2.npy": "48844faca56f15e5a698f1c0eee114b544f3b87dcaa134b8f0327e025eeac131",
    "train/T-1.npy": "cc96f9cb762742131748e009a58640887c6dac69032798e3f3a01447e10111b6",
    "train/T-12.npy": "cd598282ee16a9f7cbed2ae6bfbfce489cabc2ea44ddd3391dc768d7276145d0",
    "train/T-13.npy": "9f3d78fa06ddf72f26fc190e11d38a253c1e2b59a4fc0bd06633b98a010a4f86",
    "train/T-2.npy": "2cb8f5405401e35f152569b434b73ab820fb70ccc2241b92e9bcac3e23d7cf12",
    "train/T-3.npy": "a1cf66e4d13dfcf22e3ae14be5b5561ea534cff6f7761880a63b11753de0c855",
    "train/T-4.npy": "d137cceeedfd2c0759b9217ccb15cb29d7c8c0458d2d2515f84f54d5f0655c4c",
    "train/T-5.npy": "dee9cf73d88fedd63896b51c627880a5693645ba641806bbcfbae294e3e30376",
    "train/T-8.npy": "ce4c1d993e283f4b4d9c85922fa4e384e2aa65091a9dc74739e9c733e374c465",
    "train/T-9.npy": "11052bf6842a5d8b097a30cdcba1d14ad5a2d3a4ffac4864853eef6cb7206738",
}
LABELS_FILE = RemoteFile(TELEMANOM_LABELS, "labeled_anomalies.csv",
                         sha256=TELEMANOM_SHA256["labeled_anomalies.csv"], size=3_956)


def _telemanom_arrays(spacecraft: str) -> tuple[RemoteFile, ...]:
    """Every channel's train and test .npy of `spacecraft`, from TranAD's copy of data.zip
    (no account needed; S3's data.zip answers 403 since late 2024, telemanom issues #85, #86)."""
    channels = CHANNELS[spacecraft]
    return tuple(RemoteFile(f"{TRANAD_ARRAYS}/{part}/{e.name}.npy", f"{part}/{e.name}.npy",
                            sha256=TELEMANOM_SHA256[f"{part}/{e.name}.npy"],
                            size=128 + 8 * channels * (e.train_rows if part == "train" else e.test_rows))
                 for e in {"SMAP": SMAP, "MSL": MSL}[spacecraft] for part in ("train", "test"))


FALLBACKS: dict[str, tuple[RemoteFile, ...]] = {
    # data.zip (SHA-256 from TimeSeAD's smap_dataset.py ZIP_CHECKSUM; md5 as published by
    # torch-timeseries and conmo) unpacks to data/{train,test}/: labels go beside them.
    name: (RemoteFile(TELEMANOM_ZIP, "data.zip",
                      sha256="b4d66deb492d9b0a353b51879152687ed9313897e8e19320d2dc853d738ed8a7",
                      md5="c40a236775c1c3a26de601f66541b414", unpack=True),
           dataclasses.replace(LABELS_FILE, path="data/labeled_anomalies.csv"))
    for name in ("SMAP", "MSL")
}
"""Tried when the dataset's SOURCES cannot be reached (not when a file fails its checksum)."""
MANUAL = {
    "SMAP": ("get telemanom's files by hand: the Kaggle archive "
             "https://www.kaggle.com/datasets/patrickfleith/nasa-anomaly-detection-dataset-smap-msl "
             "(free account; unzip it), or a telemanom checkout (git clone "
             "https://github.com/khundman/telemanom) with its data.zip unpacked; then run "
             "`python -m tsadbench.datasets prepare {name} --from <that folder>`"),
    "SMD": ("get OmniAnomaly's ServerMachineDataset folder by hand (git clone "
            "https://github.com/NetManAIOps/OmniAnomaly), then run "
            "`python -m tsadbench.datasets prepare SMD --from OmniAnomaly/ServerMachineDataset`"),
    "PSM": ("get train.csv, test.csv and test_label.csv by hand from "
            "https://github.com/eBay/RANSynCoders/tree/main/data, then run "
            "`python -m tsadbench.datasets prepare PSM --from <that folder>`"),
}
MANUAL["MSL"] = MANUAL["SMAP"]
SOURCES: dict[str, tuple[RemoteFile, ...]] = {
    "SMD": tuple(RemoteFile(f"{OMNIANOMALY}/{part}/{machine}.txt",
                            f"ServerMachineDataset/{part}/{machine}.txt")
                 for part in ("train", "test", "test_label", "interpretation_label")
                 for machine in SMD_MACHINES),
    "SMAP": (LABELS_FILE, *_telemanom_arrays("SMAP")),
    "MSL": (LABELS_FILE, *_telemanom_arrays("MSL")),
    "PSM": (RemoteFile(f"{PSM_DATA}/train.csv", "train.csv", size=63_628_087),
            RemoteFile(f"{PSM_DATA}/test.csv", "test.csv", size=42_523_490),
            RemoteFile(f"{PSM_DATA}/test_label.csv", "test_label.csv", size=966_273)),
}


def download(dataset: str, dest: Path, mirror: str | None = None,
             log: Callable[[str], None] = print) -> Path:
    """Fetch every file of `dataset` into `dest` (from `mirror`/<path> instead, if given); when
    its sources cannot be reached, try FALLBACKS, then fail naming the manual route."""
    name = dataset_name(dataset)
    if name not in SOURCES:
        raise DownloadError(f"{name} {NOT_PUBLIC.format(name=name)}")
    failures = []
    for files in (SOURCES[name], FALLBACKS.get(name)):
        if files is None:
            continue
        try:
            return _download_files(files, Path(dest), mirror, log)
        except ChecksumError:
            raise
        except DownloadError as error:
            failures.append(str(error))
            log(f"{name}: {error}")
    raise DownloadError(f"{name} could not be downloaded ({'; then '.join(failures)}); "
                        f"{MANUAL[name].format(name=name)}")


def _download_files(files: tuple[RemoteFile, ...], dest: Path, mirror: str | None,
                    log: Callable[[str], None]) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    record = _read_record(dest)
    for remote in files:
        url = remote.url if mirror is None else f"{mirror.rstrip('/')}/{remote.path}"
        known = record.get(remote.path, {}).get("sha256")
        path, digest = fetch(remote, dest, url, known)
        if not (remote.sha256 or remote.md5 or known):
            log(f"{remote.path}: no published checksum; recorded sha256 {digest} in {dest / RECORD}")
        record[remote.path] = {"url": url, "sha256": digest, "bytes": path.stat().st_size}
        _write_record(dest, record)
        if remote.unpack:
            unpack(path, dest)
    return dest


def fetch(remote: RemoteFile, dest: Path, url: str | None = None, recorded_sha256: str | None = None,
          attempts: int = 3, timeout: float = 60.0) -> tuple[Path, str]:
    """Download one file (resuming a `.part` left before), verify it; returns (path, sha256)."""
    url = url or remote.url
    target = Path(dest) / remote.path
    part = target.with_name(target.name + ".part")
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_file():
        try:
            return target, verify(target, remote, url, recorded_sha256)
        except ChecksumError:
            target.unlink()
    last_error: Exception | None = None
    for _ in range(attempts):
        try:
            _transfer(url, part, timeout)
            break
        except (ConnectionError, TimeoutError, HTTPException, urllib.error.URLError) as error:
            last_error = error
    else:
        kept = part.stat().st_size if part.is_file() else 0
        raise DownloadError(f"{url}: transfer interrupted after {attempts} attempt(s) ({last_error}); "
                            f"{part} keeps the {kept} bytes received: run the same command again to resume")
    try:
        digest = verify(part, remote, url, recorded_sha256)
    except ChecksumError:
        part.unlink()
        raise
    os.replace(part, target)
    return target, digest


def verify(path: Path, remote: RemoteFile, url: str, recorded_sha256: str | None = None) -> str:
    """Check size, sha256 and md5 where known; returns the file's sha256."""
    sha256, md5 = hashlib.sha256(), hashlib.md5()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            sha256.update(chunk)
            md5.update(chunk)
    size = path.stat().st_size
    expected = [("size", remote.size, size), ("sha256", remote.sha256, sha256.hexdigest()),
                ("md5", remote.md5, md5.hexdigest()),
                ("sha256 recorded at the first download", recorded_sha256, sha256.hexdigest())]
    for what, want, got in expected:
        if want is not None and want != got:
            raise ChecksumError(
                f"{url}: {what} is {got}, expected {want}: the transfer was corrupted or the file "
                f"changed at its source; {path.name} was deleted, run the command again (if it fails "
                "the same way, the source changed: check it and update SOURCES)"
            )
    return sha256.hexdigest()


def _transfer(url: str, part: Path, timeout: float) -> None:
    """Append the rest of `url` to `part` (all of it when the server ignores Range)."""
    offset = part.stat().st_size if part.is_file() else 0
    headers = {"User-Agent": "tsadbench-datasets"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:
            return
        raise DownloadError(f"{url}: HTTP {error.code} {error.reason}; check the URL "
                            "(or --mirror) and try again") from error
    with response:
        resumed = offset > 0 and response.status == 206
        length = response.headers.get("Content-Length")
        received = 0
        with open(part, "ab" if resumed else "wb") as out:
            while chunk := response.read(CHUNK):
                out.write(chunk)
                received += len(chunk)
    if length is not None and received < int(length):
        raise ConnectionError(f"connection closed after {received} of {length} bytes")


def unpack(archive: Path, dest: Path) -> None:
    """Extract a zip archive into `dest`, refusing members that would land outside it."""
    try:
        with zipfile.ZipFile(archive) as bundle:
            for member in bundle.namelist():
                if not (dest / member).resolve().is_relative_to(dest.resolve()):
                    raise DownloadError(f"{archive}: member {member!r} would be written outside "
                                        f"{dest}; refusing to unpack")
            bundle.extractall(dest)
    except zipfile.BadZipFile as error:
        raise DownloadError(f"{archive}: not a zip archive ({error}); delete it and download "
                            "again") from error


def _read_record(dest: Path) -> dict[str, dict[str, object]]:
    path = dest / RECORD
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _write_record(dest: Path, record: dict[str, dict[str, object]]) -> None:
    temporary = dest / (RECORD + ".tmp")
    temporary.write_text(json.dumps(record, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(temporary, dest / RECORD)
