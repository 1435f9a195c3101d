// SPDX-License-Identifier: GPL-3.0
/*
    Copyright 2021 0KIMS association.

    This file is generated with [snarkJS](https://github.com/iden3/snarkjs).

    snarkJS is a free software: you can redistribute it and/or modify it
    under the terms of the GNU General Public License as published by
    the Free Software Foundation, either version 3 of the License, or
    (at your option) any later version.

    snarkJS is distributed in the hope that it will be useful, but WITHOUT
    ANY WARRANTY; without even the implied warranty of MERCHANTABILITY
    or FITNESS FOR A PARTICULAR PURPOSE. See the GNU General Public
    License for more details.

    You should have received a copy of the GNU General Public License
    along with snarkJS. If not, see <https://www.gnu.org/licenses/>.
*/

pragma solidity ^0.8.28;

contract MerkleRoot8Verifier {
    // Scalar field size
    uint256 constant r    = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
    // Base field size
    uint256 constant q   = 21888242871839275222246405745257275088696311157297823662689037894645226208583;

    // Verification Key data
    uint256 constant alphax  = 16815602287787070728599640929473434656357679693563792535602596132113801883407;
    uint256 constant alphay  = 15037653961159483833009798063239877402625057934420226603194176908008327339831;
    uint256 constant betax1  = 7067674862754101988690386767876904319707620535614184866389919091655716005433;
    uint256 constant betax2  = 19753256137081647592877049963970990180522982624242903818662745749408471772050;
    uint256 constant betay1  = 17807790850190642835784806301171496756036552260816987351750197907480462016801;
    uint256 constant betay2  = 7680334321663540415700163925748927859008829564396606202302791323741088361622;
    uint256 constant gammax1 = 11559732032986387107991004021392285783925812861821192530917403151452391805634;
    uint256 constant gammax2 = 10857046999023057135944570762232829481370756359578518086990519993285655852781;
    uint256 constant gammay1 = 4082367875863433681332203403145435568316851327593401208105741076214120093531;
    uint256 constant gammay2 = 8495653923123431417604973247489272438418190587263600148770280649306958101930;
    uint256 constant deltax1 = 4883228180056453535535609091910926164207115648044535767900706448993363363510;
    uint256 constant deltax2 = 5998103070432867977280935713858609575492120285555271369336213319384912553858;
    uint256 constant deltay1 = 17548208669719442152239960647474333380616131939424442409507678514667196206266;
    uint256 constant deltay2 = 5809561230336715355245992979247317325233210884052713826698181017828822399853;

    
    uint256 constant IC0x = 5263578271160272387173593213264366851109798439059023984174529668235008669483;
    uint256 constant IC0y = 12550315391375898096780443866932709046954491773732688877850441581470389541684;
    
    uint256 constant IC1x = 21271084283153684941415823995612487970527507353450640587174476928039562560453;
    uint256 constant IC1y = 8857420740261586560528796496071859440468400253038896924676475010727210478906;
    
    uint256 constant IC2x = 20434983053232149622364706031730537830995434884780861546404819107219087277567;
    uint256 constant IC2y = 4553397425887146906070043683465704366198079466148528076559192325941400563691;
    
    uint256 constant IC3x = 5676927661455837780451273695820191961162809706248021057198018507252069065902;
    uint256 constant IC3y = 1067373634980706546341718753220360291013164617857627105069265564537715460003;
    
    uint256 constant IC4x = 8953792780375977523301435118696003275591069632614635202040111078852341102777;
    uint256 constant IC4y = 11338240738184880451768167608439215712109316433076677567672740754963083230025;
    
    uint256 constant IC5x = 9220964064415106231197563106243415513532989461699809435574464645998450794922;
    uint256 constant IC5y = 520420317004217138865343285613985784474833246247357910364979819722536936296;
    
    uint256 constant IC6x = 10807984807916050744602132314744599572042035182595675446101421044540807427805;
    uint256 constant IC6y = 3760579067510206193757994559917021130518961313069744237675663143770810169779;
    
    uint256 constant IC7x = 16365610449097149375452429876562971800380506587522967503698375246211163341071;
    uint256 constant IC7y = 20325619459963415720189261256919610580575779689792863375709794417689316848579;
    
    uint256 constant IC8x = 1218590980249703791934820376529676825179095993763590196425603787241517644610;
    uint256 constant IC8y = 10091523970458962518998535043314518429211985920632402879116703364913472017165;
    
    uint256 constant IC9x = 1201403317434629672282200708644397662505474339093426938683020072416485474851;
    uint256 constant IC9y = 12683030496939432327790109337849033426407105559850828808832798696311799164955;
    
    uint256 constant IC10x = 8711965153416835043785800148979361698794889535596648703674493301028236556554;
    uint256 constant IC10y = 13309815238882514616957194407214230696913950163740568134890765264457331536147;
    
 
    // Memory data
    uint16 constant pVk = 0;
    uint16 constant pPairing = 128;

    uint16 constant pLastMem = 896;

    function verifyProof(uint[2] calldata _pA, uint[2][2] calldata _pB, uint[2] calldata _pC, uint[10] calldata _pubSignals) public view returns (bool) {
        assembly {
            function checkField(v) {
                if iszero(lt(v, r)) {
                    mstore(0, 0)
                    return(0, 0x20)
                }
            }
            
            // G1 function to multiply a G1 value(x,y) to value in an address
            function g1_mulAccC(pR, x, y, s) {
                let success
                let mIn := mload(0x40)
                mstore(mIn, x)
                mstore(add(mIn, 32), y)
                mstore(add(mIn, 64), s)

                success := staticcall(sub(gas(), 2000), 7, mIn, 96, mIn, 64)

                if iszero(success) {
                    mstore(0, 0)
                    return(0, 0x20)
                }

                mstore(add(mIn, 64), mload(pR))
                mstore(add(mIn, 96), mload(add(pR, 32)))

                success := staticcall(sub(gas(), 2000), 6, mIn, 128, pR, 64)

                if iszero(success) {
                    mstore(0, 0)
                    return(0, 0x20)
                }
            }

            function checkPairing(pA, pB, pC, pubSignals, pMem) -> isOk {
                let _pPairing := add(pMem, pPairing)
                let _pVk := add(pMem, pVk)

                mstore(_pVk, IC0x)
                mstore(add(_pVk, 32), IC0y)

                // Compute the linear combination vk_x
                
                g1_mulAccC(_pVk, IC1x, IC1y, calldataload(add(pubSignals, 0)))
                
                g1_mulAccC(_pVk, IC2x, IC2y, calldataload(add(pubSignals, 32)))
                
                g1_mulAccC(_pVk, IC3x, IC3y, calldataload(add(pubSignals, 64)))
                
                g1_mulAccC(_pVk, IC4x, IC4y, calldataload(add(pubSignals, 96)))
                
                g1_mulAccC(_pVk, IC5x, IC5y, calldataload(add(pubSignals, 128)))
                
                g1_mulAccC(_pVk, IC6x, IC6y, calldataload(add(pubSignals, 160)))
                
                g1_mulAccC(_pVk, IC7x, IC7y, calldataload(add(pubSignals, 192)))
                
                g1_mulAccC(_pVk, IC8x, IC8y, calldataload(add(pubSignals, 224)))
                
                g1_mulAccC(_pVk, IC9x, IC9y, calldataload(add(pubSignals, 256)))
                
                g1_mulAccC(_pVk, IC10x, IC10y, calldataload(add(pubSignals, 288)))
                

                // -A
                mstore(_pPairing, calldataload(pA))
                mstore(add(_pPairing, 32), mod(sub(q, calldataload(add(pA, 32))), q))

                // B
                mstore(add(_pPairing, 64), calldataload(pB))
                mstore(add(_pPairing, 96), calldataload(add(pB, 32)))
                mstore(add(_pPairing, 128), calldataload(add(pB, 64)))
                mstore(add(_pPairing, 160), calldataload(add(pB, 96)))

                // alpha1
                mstore(add(_pPairing, 192), alphax)
                mstore(add(_pPairing, 224), alphay)

                // beta2
                mstore(add(_pPairing, 256), betax1)
                mstore(add(_pPairing, 288), betax2)
                mstore(add(_pPairing, 320), betay1)
                mstore(add(_pPairing, 352), betay2)

                // vk_x
                mstore(add(_pPairing, 384), mload(add(pMem, pVk)))
                mstore(add(_pPairing, 416), mload(add(pMem, add(pVk, 32))))


                // gamma2
                mstore(add(_pPairing, 448), gammax1)
                mstore(add(_pPairing, 480), gammax2)
                mstore(add(_pPairing, 512), gammay1)
                mstore(add(_pPairing, 544), gammay2)

                // C
                mstore(add(_pPairing, 576), calldataload(pC))
                mstore(add(_pPairing, 608), calldataload(add(pC, 32)))

                // delta2
                mstore(add(_pPairing, 640), deltax1)
                mstore(add(_pPairing, 672), deltax2)
                mstore(add(_pPairing, 704), deltay1)
                mstore(add(_pPairing, 736), deltay2)


                let success := staticcall(sub(gas(), 2000), 8, _pPairing, 768, _pPairing, 0x20)

                isOk := and(success, mload(_pPairing))
            }

            let pMem := mload(0x40)
            mstore(0x40, add(pMem, pLastMem))

            // Validate that all evaluations ∈ F
            
            checkField(calldataload(add(_pubSignals, 0)))
            
            checkField(calldataload(add(_pubSignals, 32)))
            
            checkField(calldataload(add(_pubSignals, 64)))
            
            checkField(calldataload(add(_pubSignals, 96)))
            
            checkField(calldataload(add(_pubSignals, 128)))
            
            checkField(calldataload(add(_pubSignals, 160)))
            
            checkField(calldataload(add(_pubSignals, 192)))
            
            checkField(calldataload(add(_pubSignals, 224)))
            
            checkField(calldataload(add(_pubSignals, 256)))
            
            checkField(calldataload(add(_pubSignals, 288)))
            

            // Validate all evaluations
            let isValid := checkPairing(_pA, _pB, _pC, _pubSignals, pMem)

            mstore(0, isValid)
             return(0, 0x20)
         }
     }
 }
